"""Sends log records to Sightline's /v1/logs with the OpenTelemetry Python SDK, as an
application would: the stdlib `logging` bridge (LoggingHandler) over a LoggerProvider
whose OTLP/HTTP exporter speaks protobuf. Used by tests/tests/e2e/otlp.rs.

Usage: otel_logs.py ENDPOINT API_KEY SERVICE [gzip]
Prints one line per export: `export SUCCESS` or `export FAILURE`.
"""

import logging
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource


class Recording(OTLPLogExporter):
    """The SDK logs export failures and moves on; the test needs to see them."""

    def export(self, batch):
        result = super().export(batch)
        print(f"export {result.name}", flush=True)
        return result


def main():
    endpoint, key, service = sys.argv[1:4]
    gzip = len(sys.argv) > 4 and sys.argv[4] == "gzip"
    resource = Resource.create(
        {
            "service.name": service,
            "host.name": "py-host-1",
            "deployment.environment.name": "test",
            "service.version": "2.0.1",
        }
    )
    provider = LoggerProvider(resource=resource)
    exporter = Recording(
        endpoint=endpoint,
        headers={"Authorization": f"Bearer {key}"},
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        timeout=10,
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    log = logging.getLogger("shop.checkout")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)

    log.info("order %s placed", "ord-1", extra={"order.items": 3, "customer.tier": "gold"})
    log.warning("inventory low for sku-42", extra={"stock": 2})
    try:
        {}["missing"]
    except KeyError:
        log.exception("payment capture failed for ord-1 with card 4111 1111 1111 1111")
    provider.shutdown()


if __name__ == "__main__":
    main()
