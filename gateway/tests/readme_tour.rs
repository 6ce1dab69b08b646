//! The README's 60-second tour, run as written against the real binary on the embedded default config:
//! every `curl` line of the tour block is sent, and the JSON after `# →` must be contained in the answer.
//! Then the crash block: `kill -9`, restart, and its checks.
mod common;
use common::*;
use serde_json::Value;
use std::ffi::OsString;
use std::time::{Duration, Instant};

struct Step {
    method: String,
    path: String,
    body: Option<String>,
    expect: Value,
}

/// Parses `curl -s [-X M] [URL] [-d 'BODY']` lines, each followed by `# → JSON`.
fn steps(block: &str) -> Vec<Step> {
    let lines: Vec<&str> = block.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("curl -s ") else {
            continue;
        };
        let expect_line = lines
            .get(i + 1)
            .and_then(|l| l.strip_prefix("# →"))
            .unwrap_or_else(|| panic!("no `# →` after {line}"));
        let expect: Value = serde_json::from_str(expect_line.trim())
            .unwrap_or_else(|e| panic!("bad expectation {expect_line}: {e}"));
        let mut method = "GET".to_string();
        let mut path = None;
        let mut body = None;
        let mut rest = rest.trim();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("-X ") {
                let (m, r) = r.split_once(' ').expect("method then more");
                method = m.to_string();
                rest = r.trim();
            } else if let Some(r) = rest.strip_prefix("-d '") {
                let (b, r) = r.split_once('\'').expect("closing quote");
                body = Some(b.to_string());
                rest = r.trim();
            } else {
                let (tok, r) = rest.split_once(' ').unwrap_or((rest, ""));
                let url = tok.trim_matches('\'');
                path = Some(
                    url.strip_prefix("localhost:8080")
                        .expect("tour URLs are localhost:8080")
                        .to_string(),
                );
                rest = r.trim();
            }
        }
        out.push(Step {
            method,
            path: path.expect("a URL"),
            body,
            expect,
        });
    }
    out
}

fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| contains(x, y))
        }
        _ => actual == expected,
    }
}

fn run(base: &str, steps: &[Step]) {
    let a = agent();
    for s in steps {
        let url = format!("{base}{}", s.path);
        // Reads may race the paper venue's fill by a few microseconds; a person typing never sees that.
        let deadline = Instant::now() + Duration::from_secs(if s.method == "GET" { 3 } else { 0 });
        loop {
            let (status, json) =
                send(&a, &s.method, &url, s.body.as_deref()).expect("gateway answers");
            if contains(&json, &s.expect) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} {} -> {status} {json}\n  expected to contain {}",
                s.method,
                s.path,
                s.expect
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn readme_tour_works_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let tour = readme
        .split("<!-- tour:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- tour:end -->").next())
        .expect("README has a tour block");
    let after = readme.split("<!-- tour:end -->").nth(1).unwrap();
    let crash_block = after
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("crash block");
    assert!(
        crash_block.contains("pkill -9 bulwark"),
        "the block after the tour is the crash block"
    );
    let tour_steps = steps(tour);
    let crash_steps = steps(crash_block);
    assert!(tour_steps.len() >= 10 && !crash_steps.is_empty());

    let dir = tempfile::tempdir().unwrap();
    // The embedded default config, as the README's run command uses, with a private data dir and port.
    let args: Vec<OsString> = vec![
        "--data-dir".into(),
        dir.path().join("data").into_os_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--fix-port".into(),
        common::free_port().to_string().into(),
    ];
    let gw = Gateway::try_start_args(&args, dir.path()).unwrap_or_else(|l| panic!("{l}"));
    run(&gw.base, &tour_steps);
    gw.kill9();
    let gw = Gateway::try_start_args(&args, dir.path()).unwrap_or_else(|l| panic!("{l}"));
    run(&gw.base, &crash_steps);
    assert!(gw.terminate());
    let (ok, lines) = journal_tool("verify", &dir.path().join("data/journal"));
    assert!(ok, "{lines:?}");
}
