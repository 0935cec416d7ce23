//! Arbitrary server bytes never panic the client state machine.
//!
//! First input byte: how the client is prepared (bit 0: device login, bit 1: SELECT queued,
//! bit 2: IDLE queued, bit 3: feed the rest in 7-byte pieces). The rest is the server's bytes.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pimap::client::{Client, ClientConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    let user = if first & 1 != 0 { "joe#dev" } else { "joe" };
    let _ = c.login(user, "pw");
    if first & 2 != 0 {
        let _ = c.select("INBOX");
    }
    if first & 4 != 0 {
        let _ = c.idle();
    }
    if first & 8 != 0 {
        for p in rest.chunks(7) {
            c.handle_input(p, now);
            while c.poll_output().is_some() {}
        }
    } else {
        c.handle_input(rest, now);
    }
    let _ = c.noop();
    let _ = c.done();
    c.handle_timeout(now + Duration::from_secs(3600));
    while c.poll_output().is_some() {}
});
