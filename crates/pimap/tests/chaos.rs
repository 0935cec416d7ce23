//! The chaos program (examples/chaos.rs) in a small variant: devices over real TCP against
//! examples/server, resets with pushed data in flight. With XRESUME and without it nothing is
//! lost or duplicated; a device that ignores RESYNC must be caught losing mail (the check can
//! fail).

#[path = "support/example_process.rs"]
mod example_process;

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    example_process::build_example("server");
    let chaos = example_process::build_example("chaos");
    let out = Command::new(chaos)
        .args(args)
        .output()
        .expect("run the chaos program");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "chaos {args:?}:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn figure(text: &str, label: &str) -> usize {
    text.split(label)
        .nth(1)
        .and_then(|r| {
            r.split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
}

#[test]
fn resets_with_data_in_flight_lose_nothing() {
    let small = [
        "--devices",
        "60",
        "--rounds",
        "2",
        "--reset",
        "0.5",
        "--max-seconds",
        "90",
    ];
    let (ok, text) = run(&small);
    assert!(ok, "{text}");
    assert_eq!(figure(&text, "lost "), 0);
    assert_eq!(figure(&text, "duplicated/inconsistent devices "), 0);
    assert!(figure(&text, "resets ") > 0, "{text}");
    assert_eq!(
        figure(&text, "RESYNCs "),
        0,
        "XRESUME devices need no RESYNC: {text}"
    );

    let mut without = small.to_vec();
    without.push("--no-resume");
    let (ok, text) = run(&without);
    assert!(ok, "{text}");
    assert!(
        figure(&text, "RESYNCs ") > 0,
        "the conservative rule: {text}"
    );

    let mut ignoring = without.clone();
    ignoring.push("--ignore-resync");
    let (ok, text) = run(&ignoring);
    assert!(!ok, "ignoring RESYNC must be caught: {text}");
    assert!(figure(&text, "lost ") > 0, "{text}");
}
