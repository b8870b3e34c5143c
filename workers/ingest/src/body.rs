//! Request bodies as shippers compress them.

use std::io::Read;

use crate::error::{IngestError, IngestErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Deflate,
}

impl ContentEncoding {
    /// The encoding a `Content-Encoding` header names; no header is identity.
    pub fn from_header(value: Option<&str>) -> Result<Self, IngestError> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Ok(Self::Identity),
            Some("gzip") | Some("x-gzip") => Ok(Self::Gzip),
            Some("deflate") => Ok(Self::Deflate),
            Some(other) => Err(IngestError::new(
                IngestErrorKind::Unsupported,
                format!("Content-Encoding {other} is not supported (use gzip, deflate or none)"),
            )),
        }
    }
}

/// The body as sent before compression, refused past `limit` bytes: a small
/// gzip body can hold gigabytes of zeros.
pub fn decompress(
    body: &[u8],
    encoding: ContentEncoding,
    limit: usize,
) -> Result<std::borrow::Cow<'_, [u8]>, IngestError> {
    let reader: Box<dyn Read + '_> = match encoding {
        ContentEncoding::Identity => return Ok(body.into()),
        ContentEncoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        ContentEncoding::Deflate => Box::new(flate2::read::ZlibDecoder::new(body)),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            IngestError::malformed(format!("the compressed body does not decompress: {e}"))
        })?;
    if read > limit {
        return Err(IngestError::new(
            IngestErrorKind::TooLarge,
            format!("the body is larger than {limit} bytes once decompressed"),
        ));
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_open_within_the_limit_and_no_further() {
        let body = gzip(b"hello");
        assert_eq!(
            &*decompress(&body, ContentEncoding::Gzip, 5).unwrap(),
            b"hello"
        );
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 5000);
        let err = decompress(&bomb, ContentEncoding::Gzip, 1000).unwrap_err();
        assert_eq!(err.kind(), IngestErrorKind::TooLarge);
        let err = decompress(b"not gzip", ContentEncoding::Gzip, 1000).unwrap_err();
        assert_eq!(err.kind(), IngestErrorKind::Malformed);
        assert_eq!(
            ContentEncoding::from_header(Some("br")).unwrap_err().kind(),
            IngestErrorKind::Unsupported
        );
        assert_eq!(
            ContentEncoding::from_header(Some(" GZIP ")).unwrap(),
            ContentEncoding::Gzip
        );
    }
}
