//! The command line: `check-config` lists every problem with file, line and key and exits non-zero;
//! `--version` carries the git revision; under systemd the gateway notifies READY=1 after it listens and
//! STOPPING=1 on SIGTERM, then exits 0.
mod common;
use common::*;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

#[test]
fn check_config_lists_every_error_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[gateway]\nhttp_listen = \"nope\"\ntypo_key = 1\n\n[journal]\ndurability = \"maybe\"\n\n[[accounts]]\nname = \"A\"\n\n[[symbols]]\nname = \"X\"\npx_decimals = 12\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    for want in [
        format!("{file}:2: gateway.http_listen:"),
        format!("{file}:3: gateway.typo_key: unknown key"),
        format!("{file}:6: journal.durability: unknown variant `maybe`"),
        format!("{file}:13: symbols[0].px_decimals: 12 is out of range"),
        "4 configuration error(s)".to_string(),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    // The embedded default and a missing file.
    let ok = Command::new(BIN).arg("check-config").output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = Command::new(BIN)
        .args(["check-config", "--config", "/nonexistent/b.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/b.toml"));
}

#[test]
fn version_names_the_revision() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("bulwark 0.1.0 ("), "{text}");
    assert!(text.trim_end().ends_with(')'), "{text}");
}

#[test]
fn bad_run_flags_are_refused() {
    let out = Command::new(BIN)
        .args(["run", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let out = Command::new(BIN)
        .args(["run", "--durability", "sometimes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn systemd_notify_ready_then_stopping_and_a_second_instance_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, test_config(&dir.path().join("data"), "sync")).unwrap();
    let child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed on any failed assertion, so a failing run never leaves a gateway behind holding the test's pipes.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(child);
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 arrives");
    assert_eq!(&buf[..n], b"READY=1");

    // The data dir is locked: a second gateway on it refuses to start.
    let second = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another bulwark process"));

    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let n = sock.recv(&mut buf).expect("STOPPING=1 arrives");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(
        child.0.wait().unwrap().success(),
        "clean exit after SIGTERM"
    );
}

#[test]
fn journal_tools_and_run_refuse_bad_paths() {
    for action in ["verify", "dump", "stats"] {
        let out = Command::new(BIN)
            .args(["journal", action, "--journal-dir", "/nonexistent/journal"])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{action} on a missing directory must fail"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("does not exist"));
    }
    // A data dir that cannot be created (under a regular file) stops the start with a message.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(file.join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot create data dir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
