//! A P-IMAP device over [`pimap_tokio::Connection`]: log in with a device id, select INBOX,
//! idle and print what is pushed; when the connection drops, reconnect and resume the
//! device session (queued events applied, or RESYNC said).
//!
//! ```text
//! cargo run -p pimap-tokio --example client -- --addr 127.0.0.1:1143 \
//!     --user alice#phone --password alicepw [--ca PEM [--implicit-tls]] [--max-seconds N]
//! ```
//!
//! With `--ca` the connection uses STARTTLS (or TLS from the first byte with
//! `--implicit-tls`) and checks the server's certificate for `localhost` against that PEM.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pimap_client::{ClientConfig, Event, LoginOutcome};
use pimap_tokio::rustls::pki_types::ServerName;
use pimap_tokio::{tls, Connection, ConnectionError, Security};
use pimap_types::{CommandBody, Mailbox};

struct Args {
    addr: SocketAddr,
    user: String,
    password: String,
    security: Security,
    max_seconds: u64,
}

fn args() -> Args {
    let usage = || -> ! {
        eprintln!(
            "usage: client --addr HOST:PORT --user USER#DEVICE --password PW \
             [--ca PEM [--implicit-tls]] [--max-seconds N (60)]"
        );
        std::process::exit(2)
    };
    let (mut addr, mut user, mut password, mut ca, mut implicit) = (None, None, None, None, false);
    let mut max_seconds = 60;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--addr" => addr = v().parse().ok(),
            "--user" => user = Some(v()),
            "--password" => password = Some(v()),
            "--ca" => ca = Some(v()),
            "--implicit-tls" => implicit = true,
            "--max-seconds" => max_seconds = v().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let security = match ca {
        None => Security::Plain,
        Some(path) => {
            let pem = std::fs::read(&path).unwrap_or_else(|_| usage());
            let config = tls::client_config(&pem).unwrap_or_else(|_| usage());
            let server_name = ServerName::try_from("localhost").unwrap_or_else(|_| usage());
            if implicit {
                Security::Tls {
                    config,
                    server_name,
                }
            } else {
                Security::StartTls {
                    config,
                    server_name,
                }
            }
        }
    };
    match (addr, user, password) {
        (Some(addr), Some(user), Some(password)) => Args {
            addr,
            user,
            password,
            security,
            max_seconds,
        },
        _ => usage(),
    }
}

/// A command body from its wire form (for P-IMAP commands the client has no helper for).
fn command(text: &str) -> CommandBody {
    let mut d = pimap_codec::CommandDecoder::default();
    d.feed(format!("x {text}\r\n").as_bytes());
    match d.next() {
        Ok(Some(pimap_types::ClientMessage::Command(c))) => c.body,
        _ => unreachable!("{text} is a valid command"),
    }
}

/// Make sure INBOX is selected and IDLE is running after a (re)login.
async fn watch_inbox(c: &mut Connection, outcome: &LoginOutcome) -> Result<(), ConnectionError> {
    println!("login: {outcome:?}");
    if matches!(outcome, LoginOutcome::Fresh) {
        // A new device session pushes nothing until it has a notification filter.
        let done = c.run(command("XFILTER INBOX N ALL")).await?;
        println!("notification filter ALL: {:?}", done.status.status);
    }
    if !matches!(outcome, LoginOutcome::ResumedSelected { .. }) {
        let inbox = Mailbox::inbox();
        let done = c
            .run(CommandBody::Select {
                mailbox: inbox,
                params: Vec::new(),
            })
            .await?;
        println!("select INBOX: {:?}", done.status.status);
    }
    c.idle().await?;
    println!("idling");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let deadline = Instant::now() + Duration::from_secs(a.max_seconds);
    let mut c = Connection::connect(a.addr, a.security.clone(), ClientConfig::default()).await?;
    let outcome = c.login(&a.user, &a.password).await?;
    watch_inbox(&mut c, &outcome).await?;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.next_event()).await {
            Err(_) => break,
            // The SELECT's own EXISTS/RECENT first, then what is pushed in IDLE.
            Ok(Ok(Event::Mailbox(e))) => println!("event: {e:?}"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                // Lost: reconnect with backoff; the session resumes where the device was.
                println!("connection lost ({e}); reconnecting");
                let mut wait = Duration::from_millis(200);
                loop {
                    tokio::time::sleep(wait).await;
                    match c.reconnect().await {
                        Ok(outcome) => break watch_inbox(&mut c, &outcome).await?,
                        Err(e) if Instant::now() < deadline => {
                            println!("reconnect failed: {e}");
                            wait = (wait * 2).min(Duration::from_secs(5));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }
    println!("done");
    Ok(())
}
