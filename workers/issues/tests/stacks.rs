//! Fingerprints of stack traces as each runtime prints them: the same error
//! from another build (other line numbers, addresses, release directories,
//! anonymous-function numbers) is one issue; another in-app frame is another.

use sightline_issues::stack::{error_type, frames};
use sightline_issues::{occurrence, Occurrence};
use sightline_schemas::{AttrValue, Body, ErrorEvent, Event, LogRecord, Severity};

/// The occurrence of an error log record whose message is `stack`.
fn logged(service: &str, stack: &str) -> Occurrence {
    let record = LogRecord::new(Severity::Error, stack);
    occurrence(&Event::new(service, Body::Log(record))).expect("an error")
}

/// The same trace twice (as `a` and `b`, from two builds) and one with another
/// in-app frame: one issue, then two.
fn one_then_two(a: &str, b: &str, other: &str) {
    let (a, b, other) = (logged("shop", a), logged("shop", b), logged("shop", other));
    assert_eq!(a.fingerprint, b.fingerprint, "{a:?} / {b:?}");
    assert_ne!(a.fingerprint, other.fingerprint, "{other:?}");
    assert_eq!(a.error_type, other.error_type);
}

const PYTHON: &str = r#"cart checkout failed
Traceback (most recent call last):
  File "/srv/app/releases/20261201/shop/views.py", line 88, in checkout
    order = cart.place(user)
  File "/srv/app/releases/20261201/shop/cart.py", line 42, in place
    total = self.total()
  File "/usr/lib/python3.11/site-packages/django/db/transaction.py", line 255, in inner
    return func(*args, **kwargs)
ValueError: cart 8812 is empty"#;

#[test]
fn python() {
    let b = PYTHON
        .replace("20261201", "20261207")
        .replace("line 88", "line 93")
        .replace("line 42", "line 47")
        .replace("8812", "9120");
    one_then_two(PYTHON, &b, &PYTHON.replace("in checkout", "in reorder"));
    let f = frames(PYTHON);
    assert_eq!(f[0].file, "db/transaction.py", "innermost first: {f:?}");
    assert!(!f[0].in_app, "site-packages is not the app's");
    assert_eq!(f[1].file, "shop/cart.py");
    assert_eq!(f[1].function, "place");
    assert_eq!(logged("shop", PYTHON).error_type, "ValueError");
    assert_eq!(logged("shop", PYTHON).title, "cart checkout failed");
    assert_eq!(
        logged("shop", PYTHON).culprit.as_deref(),
        Some("shop/cart.py in place")
    );
}

const JAVA: &str = "java.lang.IllegalStateException: order 5512 has no lines
\tat com.shop.orders.OrderService.place(OrderService.java:118)
\tat com.shop.orders.OrderController.lambda$create$0(OrderController.java:57)
\tat java.base/java.util.Optional.map(Optional.java:260)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)
\tat java.base/java.lang.Thread.run(Thread.java:833)
Caused by: java.sql.SQLException: connection reset
\tat com.zaxxer.hikari.pool.ProxyConnection.checkException(ProxyConnection.java:181)
\t... 5 more";

#[test]
fn java() {
    let b = JAVA
        .replace("118", "121")
        .replace("57", "61")
        .replace("lambda$create$0", "lambda$create$2")
        .replace("5512", "77");
    one_then_two(
        JAVA,
        &b,
        &JAVA.replace("OrderService.place", "OrderService.cancel"),
    );
    let f = frames(JAVA);
    assert_eq!(f.len(), 6, "{f:?}");
    assert_eq!(f[0].file, "OrderService.java");
    assert_eq!(f[0].function, "com.shop.orders.OrderService.place");
    assert_eq!(f[2].function, "java.util.Optional.map");
    assert!(!f[2].in_app && !f[3].in_app);
    assert_eq!(
        error_type(JAVA).as_deref(),
        Some("java.lang.IllegalStateException")
    );
}

const GO: &str = "panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6c3a1d]

goroutine 42 [running]:
github.com/shop/api/cart.(*Cart).Total(0x0)
\t/build/src/cart/cart.go:42 +0x1d
github.com/shop/api/handlers.Checkout({0x7f1c2a, 0xc000123450}, 0xc0001a2b00)
\t/build/src/handlers/checkout.go:88 +0x95
net/http.HandlerFunc.ServeHTTP(0xc0000a4000?, {0x7f1c2a?, 0xc000123450?}, 0x0?)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3086 +0x5cb";

#[test]
fn go() {
    let b = GO
        .replace("goroutine 42", "goroutine 7")
        .replace("cart.go:42 +0x1d", "cart.go:44 +0x21")
        .replace("0xc000123450", "0xc0004f2a10")
        .replace("pc=0x6c3a1d", "pc=0x6c3b02");
    one_then_two(GO, &b, &GO.replace("handlers.Checkout", "handlers.Reorder"));
    let f = frames(GO);
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(f[0].function, "github.com/shop/api/cart.(*Cart).Total");
    assert_eq!(f[0].file, "cart/cart.go");
    assert!(!f[2].in_app);
    assert_eq!(error_type(GO).as_deref(), Some("panic: runtime error"));
}

const RUST: &str = "thread 'tokio-runtime-worker' panicked at src/cart.rs:42:9:
called `Option::unwrap()` on a `None` value
stack backtrace:
   0: rust_begin_unwind
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs:645:5
   1: core::panicking::panic_fmt
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs:72:14
   2: core::option::unwrap_failed
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/option.rs:1984:5
   3: shop::cart::Cart::total
             at ./src/cart.rs:42:9
   4: shop::checkout::{{closure}}
             at ./src/checkout.rs:17:20
   5: tokio::runtime::task::core::Core<T,S>::poll
             at /home/ci/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.35.1/src/runtime/task/core.rs:328:13";

/// A release build without locations: addresses and symbol hashes only.
const RUST_RELEASE: &str = "thread 'main' panicked at src/cart.rs:44:9:
called `Option::unwrap()` on a `None` value
stack backtrace:
   0: 0x55d0c8a1b2c3 - std::backtrace_rs::backtrace::libunwind::trace::h5a1c2b3d4e5f6a7b
   1: 0x55d0c8a1c4d5 - core::option::unwrap_failed::h0123456789abcdef
   2: 0x55d0c8a1d6e7 - shop::cart::Cart::total::h9f8e7d6c5b4a3928
   3: 0x55d0c8a1e8f9 - shop::checkout::{{closure}}::hfedcba9876543210
   4: 0x55d0c8a1f0a1 - tokio::runtime::task::core::Core<T,S>::poll::h1111222233334444";

#[test]
fn rust() {
    let b = RUST.replace("42:9", "44:9").replace(
        "90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf",
        "82e1608dfa6e0b5569232559e3d385fea5a93112",
    );
    one_then_two(
        RUST,
        &b,
        &RUST.replace("shop::cart::Cart::total", "shop::cart::Cart::tax"),
    );
    let f = frames(RUST);
    assert_eq!(f.len(), 6, "{f:?}");
    let app: Vec<&str> = f
        .iter()
        .filter(|f| f.in_app)
        .map(|f| f.function.as_str())
        .collect();
    assert_eq!(
        app,
        ["shop::cart::Cart::total", "shop::checkout::{{closure}}"]
    );
    let release = frames(RUST_RELEASE);
    let app: Vec<&str> = release
        .iter()
        .filter(|f| f.in_app)
        .map(|f| f.function.as_str())
        .collect();
    assert_eq!(
        app,
        ["shop::cart::Cart::total", "shop::checkout::{{closure}}"],
        "hashes dropped"
    );
    assert_eq!(error_type(RUST).as_deref(), Some("panic"));
}

const NODE: &str = "TypeError: Cannot read properties of undefined (reading 'price')
    at lineTotal (/srv/app/src/cart.js:42:23)
    at Array.map (<anonymous>)
    at Cart.total (/srv/app/src/cart.js:18:31)
    at async checkout (/srv/app/src/routes/checkout.js:77:17)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)";

/// The browser's shape (Firefox, Safari), from a minified bundle with a build hash.
const BROWSER: &str = "lineTotal@https://shop.example/static/js/main.3f2a1b9c.js:2:14022
total@https://shop.example/static/js/main.3f2a1b9c.js:2:13877
checkout@https://shop.example/static/js/main.3f2a1b9c.js:2:20410";

#[test]
fn javascript() {
    let b = NODE.replace("42:23", "45:23").replace("77:17", "80:9");
    one_then_two(
        NODE,
        &b,
        &NODE.replace("at async checkout", "at async reorder"),
    );
    let f = frames(NODE);
    assert_eq!(f.len(), 5, "{f:?}");
    assert_eq!(f[0].file, "src/cart.js");
    assert_eq!(f[3].function, "checkout", "`async ` is not the name");
    assert!(!f[1].in_app && !f[4].in_app);
    assert_eq!(error_type(NODE).as_deref(), Some("TypeError"));
    let next_build = BROWSER
        .replace("3f2a1b9c", "77d0e4aa")
        .replace(":2:14022", ":2:15110");
    assert_eq!(
        logged("web", &format!("TypeError: x is undefined\n{BROWSER}")).fingerprint,
        logged("web", &format!("TypeError: x is undefined\n{next_build}")).fingerprint,
        "a bundle's hash and offsets change with each build"
    );
}

const DOTNET: &str = "System.InvalidOperationException: Sequence contains no elements
   at System.Linq.ThrowHelper.ThrowNoElementsException()
   at System.Linq.Enumerable.First[TSource](IEnumerable`1 source)
   at Shop.Orders.OrderService.Place(Order order) in /src/Shop/Orders/OrderService.cs:line 118
   at Shop.Api.Controllers.OrdersController.<Create>b__4_0(Order o) in /src/Shop.Api/Controllers/OrdersController.cs:line 57
   at Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.Execute(IActionResultTypeMapper mapper, ObjectMethodExecutor executor, Object controller, Object[] arguments)";

#[test]
fn dotnet() {
    let b = DOTNET
        .replace("line 118", "line 120")
        .replace("b__4_0", "b__5_1")
        .replace("/src/", "/home/runner/work/shop/src/");
    one_then_two(
        DOTNET,
        &b,
        &DOTNET.replace("OrderService.Place", "OrderService.Cancel"),
    );
    let f = frames(DOTNET);
    assert_eq!(f.len(), 5, "{f:?}");
    assert_eq!(f[2].file, "Orders/OrderService.cs");
    assert_eq!(f[2].function, "Shop.Orders.OrderService.Place");
    assert!(!f[0].in_app && !f[1].in_app && !f[4].in_app && f[3].in_app);
    assert_eq!(
        error_type(DOTNET).as_deref(),
        Some("System.InvalidOperationException")
    );
}

#[test]
fn without_a_stack_the_wording_decides_and_an_explicit_fingerprint_wins() {
    let error = |message: &str, service: &str| {
        let e = ErrorEvent {
            error_code: 503,
            error_type: "UpstreamTimeout".into(),
            error_message: message.into(),
            endpoint: "/api/pay".into(),
            stack: None,
            user_id: Some("u1".into()),
        };
        occurrence(&Event::new(service, Body::Error(e))).unwrap()
    };
    let a = error("gateway 10.0.0.7 timed out after 3000 ms", "pay");
    assert_eq!(
        a.fingerprint,
        error("gateway 10.0.0.9 timed out after 2500 ms", "pay").fingerprint
    );
    assert_ne!(
        a.fingerprint,
        error("gateway 10.0.0.7 refused the connection", "pay").fingerprint
    );
    assert_ne!(
        a.fingerprint,
        error("gateway 10.0.0.7 timed out after 3000 ms", "cart").fingerprint,
        "per service"
    );
    assert_eq!(a.user_id.as_deref(), Some("u1"));

    let mut record = LogRecord::new(Severity::Fatal, PYTHON);
    record
        .attributes
        .insert("fingerprint".into(), AttrValue::Text("cart-empty".into()));
    let explicit = occurrence(&Event::new("shop", Body::Log(record.clone()))).unwrap();
    record.message = JAVA.into();
    let other_stack = occurrence(&Event::new("shop", Body::Log(record))).unwrap();
    assert_eq!(explicit.fingerprint, other_stack.fingerprint);
    assert_ne!(explicit.fingerprint, logged("shop", PYTHON).fingerprint);

    // Below error severity, and commerce events, make no issue.
    let warn = LogRecord::new(Severity::Warn, "disk 91% full");
    assert!(occurrence(&Event::new("shop", Body::Log(warn))).is_none());
}

#[test]
fn opentelemetry_exception_attributes_are_read() {
    let mut record = LogRecord::new(Severity::Error, "checkout failed");
    record.attributes.insert(
        "exception.type".into(),
        AttrValue::Text("ValueError".into()),
    );
    record.attributes.insert(
        "exception.stacktrace".into(),
        AttrValue::Text(PYTHON.lines().skip(1).collect::<Vec<_>>().join("\n")),
    );
    let o = occurrence(&Event::new("shop", Body::Log(record))).unwrap();
    assert_eq!(o.error_type, "ValueError");
    assert_eq!(o.culprit.as_deref(), Some("shop/cart.py in place"));
    assert_eq!(
        o.fingerprint,
        logged("shop", PYTHON).fingerprint,
        "the same error either way"
    );
}
