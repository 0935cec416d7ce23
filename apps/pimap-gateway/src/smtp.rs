//! SMTP submission for XDELIVER.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::backend::props_from_message;
use crate::BACKEND_TIMEOUT;
use pimap::server::Submission;

pub(crate) async fn smtp_reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<(u16, String), String> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(BACKEND_TIMEOUT, r.read_line(&mut line))
            .await
            .map_err(|_| "SMTP server timed out".to_string())?
            .map_err(|e| format!("SMTP read: {e}"))?;
        if n == 0 {
            return Err("SMTP server closed the connection".into());
        }
        let line = line.trim_end();
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad SMTP reply {line:?}"))?;
        text.push_str(line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
    }
}

/// The recipients: the explicit envelope, else the To/Cc/Bcc header addresses.
pub(crate) fn recipients(sub: &Submission) -> Vec<String> {
    if let Some(env) = &sub.envelope {
        return env
            .iter()
            .filter_map(|a| match (&a.mailbox, &a.host) {
                (Some(m), Some(h)) => Some(format!("{}@{}", m.to_str_lossy(), h.to_str_lossy())),
                _ => None,
            })
            .collect();
    }
    let props = props_from_message(&sub.message);
    let mut out = Vec::new();
    for (n, v) in &props.headers {
        if !["to", "cc", "bcc"].contains(&String::from_utf8_lossy(n).to_ascii_lowercase().as_str())
        {
            continue;
        }
        for part in String::from_utf8_lossy(v).split(',') {
            let part = part.trim();
            let addr = match (part.find('<'), part.rfind('>')) {
                (Some(a), Some(b)) if a < b => &part[a + 1..b],
                _ => part,
            };
            if addr.contains('@') && !addr.contains(char::is_whitespace) {
                out.push(addr.to_string());
            }
        }
    }
    out
}

pub(crate) async fn submit(addr: SocketAddr, sub: &Submission) -> Result<(), String> {
    crate::metrics::SUBMISSIONS.inc();
    let r = submit_once(addr, sub).await;
    if r.is_err() {
        crate::metrics::SUBMISSION_FAILURES.inc();
    }
    r
}

async fn submit_once(addr: SocketAddr, sub: &Submission) -> Result<(), String> {
    let rcpts = recipients(sub);
    if rcpts.is_empty() {
        return Err("no recipients".into());
    }
    let stream = tokio::time::timeout(BACKEND_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| "SMTP connect timed out".to_string())?
        .map_err(|e| format!("SMTP connect {addr}: {e}"))?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let expect = |got: (u16, String), want: u16, what: &str| -> Result<(), String> {
        if got.0 == want {
            Ok(())
        } else {
            Err(format!("SMTP {what}: {}", got.1))
        }
    };
    expect(smtp_reply(&mut rd).await?, 220, "greeting")?;
    expect(
        send_raw(&mut wr, b"EHLO localhost\r\n", &mut rd).await?,
        250,
        "EHLO",
    )?;
    let from = format!("{}@localhost", String::from_utf8_lossy(&sub.user));
    expect(
        send_raw(
            &mut wr,
            format!("MAIL FROM:<{from}>\r\n").as_bytes(),
            &mut rd,
        )
        .await?,
        250,
        "MAIL FROM",
    )?;
    for r in &rcpts {
        let got = send_raw(&mut wr, format!("RCPT TO:<{r}>\r\n").as_bytes(), &mut rd).await?;
        if !(got.0 == 250 || got.0 == 251) {
            return Err(format!("SMTP RCPT TO:<{r}>: {}", got.1));
        }
    }
    expect(send_raw(&mut wr, b"DATA\r\n", &mut rd).await?, 354, "DATA")?;
    // Dot-stuffing: a line starting with '.' gets another '.'.
    let mut data = Vec::with_capacity(sub.message.len() + 16);
    let mut at_line_start = true;
    for &c in sub.message.iter() {
        if at_line_start && c == b'.' {
            data.push(b'.');
        }
        data.push(c);
        at_line_start = c == b'\n';
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    expect(send_raw(&mut wr, &data, &mut rd).await?, 250, "end of DATA")?;
    let _ = send_raw(&mut wr, b"QUIT\r\n", &mut rd).await;
    Ok(())
}

pub(crate) async fn send_raw(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes: &[u8],
    rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<(u16, String), String> {
    wr.write_all(bytes)
        .await
        .map_err(|e| format!("SMTP write: {e}"))?;
    smtp_reply(rd).await
}
