//! Runs the narrated demo (`cargo run --example demo`, the README's first command) and checks
//! that it succeeds, shows every step it promises, and prints the same bytes every time.

use std::process::Command;

fn run_demo() -> String {
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "demo"])
        // From the workspace root, exactly as the README says.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn demo_runs_shows_every_step_and_is_deterministic() {
    let first = run_demo();
    for marker in [
        "* SESSIONID ",
        "* XPROVISION ",
        "* XGETPIMAPPREFS (",
        "+ idling",
        "(nothing sent: polled, not pushed)",
        "<emn mailbox=\"mailat:alice@example.com\"",
        "* SESSION SELECTED",
        "* FOLDER INBOX",
        "* RESYNC",
        "sync plan: fetch new UIDs",
        "OK [APPENDUID ",
        "XMACRO RUN CHECK INBOX",
        ".1 OK",
        ".2 OK",
        "* XZIP ~{",
        "COMPRESS DEFLATE",
        "OK DEFLATE active",
        "* BYE",
        "== summary:",
    ] {
        assert!(first.contains(marker), "missing {marker:?} in:\n{first}");
    }
    for n in 1..=12 {
        assert!(first.contains(&format!("\n== {n}. ")), "step {n} missing");
    }
    assert!(!first.contains("!! unexpected"), "{first}");
    let second = run_demo();
    assert_eq!(first, second, "two runs print the same output");
}
