//! Stack traces of Python, Java (and the JVM's other languages), Go, Rust,
//! JavaScript and .NET, read into frames that say where the error happened and
//! not which build it happened in: a file and a function, without line numbers,
//! addresses, symbol hashes or the numbers compilers give anonymous functions.

/// One frame, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The file's last two path parts (deploy directories differ by host).
    pub file: String,
    pub function: String,
    /// Whether the frame is the application's own code rather than a runtime's
    /// or a dependency's.
    pub in_app: bool,
}

/// The frames of `stack`, innermost first as each language prints them in its
/// own order (Python prints the innermost last: it is put first here).
pub fn frames(stack: &str) -> Vec<Frame> {
    let lines: Vec<&str> = stack.lines().collect();
    let mut out = Vec::new();
    let mut python = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        let trimmed = line.trim_start();
        let next = lines.get(i + 1).map(|l| l.trim());
        if let Some(f) = python_frame(trimmed) {
            python = true;
            out.push(f);
        } else if let Some(f) = rust_frame(trimmed, next) {
            out.push(f);
            // Its location line is part of it.
            if next.is_some_and(|n| n.starts_with("at ")) {
                i += 1;
            }
        } else if let Some(rest) = trimmed.strip_prefix("at ") {
            out.extend(at_frame(rest));
        } else if let Some(f) = firefox_frame(trimmed) {
            out.push(f);
        } else if let Some(next) = lines.get(i + 1) {
            if let Some(f) = go_frame(line, next) {
                out.push(f);
                i += 1;
            }
        }
        i += 1;
    }
    if python {
        out.reverse();
    }
    out
}

/// `File "/app/shop/cart.py", line 42, in total`
fn python_frame(line: &str) -> Option<Frame> {
    let rest = line.strip_prefix("File \"")?;
    let (file, rest) = rest.split_once('"')?;
    let function = rest.split_once(", in ")?.1.trim();
    let library = ["site-packages", "dist-packages", "/lib/python", "<frozen"];
    Some(frame(
        file,
        function,
        !library.iter().any(|l| file.contains(l)),
    ))
}

/// After `at `: JavaScript (V8) `fn (file:1:2)` or `file:1:2`, Java
/// `pkg.Class.method(File.java:42)`, or .NET `Ns.Class.Method(Type arg) in file:line 42`.
fn at_frame(rest: &str) -> Option<Frame> {
    let rest = rest.trim();
    // V8: `Cart.total (/app/src/cart.js:42:13)` or a bare location.
    if let Some(inner) = rest.strip_suffix(')') {
        if let Some((function, location)) = inner.rsplit_once(" (") {
            if let Some(file) = js_location(location) {
                return Some(js_frame(file, function));
            }
            // `Array.map (<anonymous>)`, `JSON.parse (native)`: the runtime's own.
            if location == "<anonymous>" || location == "native" {
                return Some(js_frame("<anonymous>", function));
            }
        }
    }
    if let Some(file) = js_location(rest) {
        return Some(js_frame(file, "<anonymous>"));
    }
    // .NET: arguments are typed, and a location follows ` in `.
    if let Some((call, _)) = rest.split_once(" in ").or(Some((rest, ""))) {
        if let Some((function, args)) = call.split_once('(') {
            let args = args.trim_end_matches(')');
            let java_location = args.ends_with("Native Method")
                || args.ends_with("Unknown Source")
                || args.split_once(':').is_some_and(|(f, n)| {
                    f.contains('.') && !f.contains(' ') && n.chars().all(|c| c.is_ascii_digit())
                })
                || (args.contains('.') && !args.contains(' ') && !args.contains(','));
            let function = function.trim();
            if java_location {
                let file = args.split(':').next().unwrap_or(args);
                // `java.base/java.util.ArrayList.forEach`: the module is not the code.
                let function = function.rsplit('/').next().unwrap_or(function);
                return Some(frame(file, function, !jvm_library(function)));
            }
            let file = rest
                .split_once(" in ")
                .map(|(_, l)| l.rsplit_once(":line").map_or(l, |(f, _)| f))
                .unwrap_or("");
            let library = ["System.", "Microsoft.", "Newtonsoft."];
            let in_app = !library.iter().any(|l| function.starts_with(l));
            return Some(frame(file, function, in_app));
        }
    }
    None
}

fn jvm_library(function: &str) -> bool {
    const LIBRARIES: &[&str] = &[
        "java.",
        "javax.",
        "jdk.",
        "sun.",
        "com.sun.",
        "kotlin.",
        "kotlinx.",
        "scala.",
        "org.springframework.",
        "org.apache.",
        "org.hibernate.",
        "io.netty.",
        "reactor.",
        "com.fasterxml.",
        "org.junit.",
    ];
    LIBRARIES.iter().any(|l| function.starts_with(l))
}

/// `file:line:column` (a URL, a path or `node:internal/...`).
fn js_location(location: &str) -> Option<&str> {
    let (rest, column) = location.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    (digits(column) && digits(line) && !file.is_empty()).then_some(file)
}

fn js_frame(file: &str, function: &str) -> Frame {
    let function = function.strip_prefix("async ").unwrap_or(function);
    let function = function.strip_prefix("new ").unwrap_or(function);
    let library = ["node:", "node_modules", "internal/", "<anonymous>"];
    frame(file, function, !library.iter().any(|l| file.contains(l)))
}

/// Firefox and Safari: `total@https://shop.example/static/app.js:42:13`.
fn firefox_frame(line: &str) -> Option<Frame> {
    let (function, location) = line.split_once('@')?;
    if function.contains(' ') {
        return None;
    }
    let file = js_location(location)?;
    Some(js_frame(
        file,
        if function.is_empty() {
            "<anonymous>"
        } else {
            function
        },
    ))
}

/// `  12: myapp::cart::total` (optionally `0x55d0c8a1b2c3 - ` before the name),
/// its location on the next line as `at ./src/cart.rs:42:9`.
fn rust_frame(line: &str, next: Option<&str>) -> Option<Frame> {
    let (number, rest) = line.split_once(": ")?;
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let name = rest.rsplit_once(" - ").map_or(rest, |(_, n)| n).trim();
    // The symbol hash is per build.
    let name = match name.rsplit_once("::h") {
        Some((base, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            base
        }
        _ => name,
    };
    if !name.contains("::") && !name.starts_with('_') && !name.starts_with("rust_") {
        return None;
    }
    let file = next
        .and_then(|n| n.strip_prefix("at "))
        .map(|l| l.split(':').next().unwrap_or(l))
        .unwrap_or("");
    let library = [
        "std::", "core::", "alloc::", "tokio::", "futures", "rust_", "__", "_start", "<",
    ];
    let in_app = !library.iter().any(|l| name.starts_with(l))
        && !file.contains("/rustc/")
        && !file.contains(".cargo/registry");
    Some(frame(file, name, in_app))
}

/// `main.(*Cart).Total(0x0, 0xc000012345)` then `\t/app/cart.go:42 +0x1d`.
fn go_frame(line: &str, next: &str) -> Option<Frame> {
    if line.starts_with(char::is_whitespace) || !line.ends_with(')') {
        return None;
    }
    let location = next.strip_prefix('\t')?;
    let (file, _) = location.split_once(".go:")?;
    let file = format!("{file}.go");
    let function = line[..line.rfind('(')?].trim();
    let function = function.strip_prefix("created by ").unwrap_or(function);
    let library = ["runtime.", "net/http.", "syscall.", "internal/", "testing."];
    let in_app = !library.iter().any(|l| function.starts_with(l))
        && !file.contains("/go/pkg/mod/")
        && !file.contains("/usr/local/go/src/");
    Some(frame(&file, function, in_app))
}

fn frame(file: &str, function: &str, in_app: bool) -> Frame {
    Frame {
        file: short_file(file),
        function: stable_name(function),
        in_app,
    }
}

/// The last two parts of a path or URL, with build hashes in names masked.
fn short_file(file: &str) -> String {
    let file = file.split(['?', '#']).next().unwrap_or(file);
    let parts: Vec<&str> = file.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let tail = &parts[parts.len().saturating_sub(2)..];
    tail.iter()
        .map(|p| mask_build_marks(p))
        .collect::<Vec<_>>()
        .join("/")
}

/// Numbers compilers give anonymous functions and build ids: `lambda$main$0`,
/// `Outer$1`, `<Main>b__0_0`, `main.3f2a1b9c.js`, `func1`, `{closure#0}`.
fn stable_name(function: &str) -> String {
    mask_build_marks(function.trim())
}

fn mask_build_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let hexish = run.len() >= 6 && run.chars().all(|c| c.is_ascii_hexdigit());
        let numeric = !run.is_empty() && run.chars().all(|c| c.is_ascii_digit());
        if hexish || numeric {
            out.push('#');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    // Digits at a name's end (`func1`, `b__0_0`) number anonymous functions.
    out.split('.')
        .map(|part| {
            let trimmed = part.trim_end_matches(|c: char| c.is_ascii_digit());
            if trimmed.len() < part.len() && trimmed.ends_with(|c: char| c.is_ascii_alphabetic()) {
                format!("{trimmed}#")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The error's type as the stack's header or footer names it: Python's last
/// line (`ValueError: ...`), the JVM's, .NET's and JavaScript's first
/// (`java.lang.IllegalStateException: ...`), Go's `panic: ...`, Rust's `panicked`.
pub fn error_type(stack: &str) -> Option<String> {
    let lines: Vec<&str> = stack
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let typed = |line: &str| {
        let head = line.split(':').next()?.trim();
        let head = head.strip_prefix("Caused by").map_or(head, str::trim);
        let word = head.rsplit(['.', ' ']).next()?;
        let looks_like_type = !head.contains(' ')
            && word.chars().next()?.is_ascii_uppercase()
            && (word.ends_with("Error") || word.ends_with("Exception") || head.contains('.'));
        looks_like_type.then(|| head.to_owned())
    };
    // A log line may come before the trace itself.
    if lines.iter().any(|l| l.starts_with("Traceback")) {
        return lines.iter().rev().find_map(|l| typed(l));
    }
    if let Some(panic) = lines.iter().find(|l| l.starts_with("panic: ")) {
        let what = panic["panic: ".len()..].split(':').next().unwrap_or("");
        return Some(format!("panic: {}", mask_build_marks(what.trim())));
    }
    if lines.iter().any(|l| l.contains("' panicked at ")) {
        return Some("panic".into());
    }
    lines.iter().find_map(|l| typed(l))
}
