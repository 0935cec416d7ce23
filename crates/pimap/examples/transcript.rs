//! Decode a recorded IMAP session, print what each message is, and re-encode it.
//!
//! ```text
//! cargo run --example transcript                       # the bundled Dovecot session
//! cargo run --example transcript -- server.raw client.raw
//! ```

use pimap::codec::{CommandDecoder, Dialect, Encode, ResponseDecoder};
use pimap::types::{ClientMessage, Data, Response};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/dovecot/");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = args
        .first()
        .cloned()
        .unwrap_or(format!("{dir}dovecot-session.server.raw"));
    let client = args
        .get(1)
        .cloned()
        .unwrap_or(format!("{dir}dovecot-session.client.raw"));

    let bytes = std::fs::read(&client)?;
    let mut d = CommandDecoder::default();
    d.feed(&bytes);
    let (mut n, mut same) = (0, 0);
    println!("== client stream {client} ({} bytes)", bytes.len());
    while let Some(m) = d.next()? {
        n += 1;
        let enc = m.to_bytes(Dialect::Draft08);
        let mut d2 = CommandDecoder::default();
        d2.feed(&enc);
        same += usize::from(d2.next()?.as_ref() == Some(&m));
        match &m {
            ClientMessage::Command(c) => println!(
                "C {:>5} {}",
                String::from_utf8_lossy(c.tag.as_bytes()),
                c.body.name()
            ),
            ClientMessage::Done => println!("C       DONE"),
            ClientMessage::AuthData(_) => println!("C       <authentication data>"),
        }
    }
    println!("   {n} client messages, {same} re-encode to equal values");

    let bytes = std::fs::read(&server)?;
    let mut d = ResponseDecoder::default();
    d.feed(&bytes);
    let (mut n, mut same) = (0, 0);
    println!("== server stream {server} ({} bytes)", bytes.len());
    while let Some(r) = d.next()? {
        n += 1;
        let enc = r.to_bytes(Dialect::Draft08);
        let mut d2 = ResponseDecoder::default();
        d2.feed(&enc);
        same += usize::from(d2.next()?.as_ref() == Some(&r));
        println!("S {}", describe(&r));
    }
    println!("   {n} server messages, {same} re-encode to equal values");
    Ok(())
}

fn describe(r: &Response) -> String {
    match r {
        Response::Status(s) => format!(
            "{:>5} {:?} {}",
            s.tag
                .as_ref()
                .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
                .unwrap_or_else(|| "*".into()),
            s.status,
            s.code
                .as_ref()
                .map(|c| format!("{c:?}"))
                .unwrap_or_default()
        ),
        Response::Continuation(_) => "    + continuation".into(),
        Response::Data(Data::Fetch { seq, items }) => {
            format!("    * FETCH #{seq} ({} items)", items.len())
        }
        Response::Data(d) => {
            let s = format!("{d:?}");
            format!("    * {}", s.chars().take(100).collect::<String>())
        }
    }
}
