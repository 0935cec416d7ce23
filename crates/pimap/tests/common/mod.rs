//! Shared test helpers: detect "other" fallbacks in decoded values.
#![allow(dead_code)]

pub mod vecfile;

use pimap::types::*;

/// Names of generic fallbacks found anywhere in a response (empty = fully modelled).
pub fn fallbacks_in_response(r: &Response) -> Vec<String> {
    let mut out = Vec::new();
    match r {
        Response::Status(s) => code_fallback(s.code.as_ref(), &mut out),
        Response::Continuation(c) => code_fallback(c.code.as_ref(), &mut out),
        Response::Data(d) => match d {
            Data::Other { raw } => {
                out.push(format!("Data::Other {:?}", String::from_utf8_lossy(raw)))
            }
            Data::ESearch(e) => {
                for i in &e.items {
                    if let ESearchItem::Other { name, .. } = i {
                        out.push(format!("ESearchItem::Other {name:?}"));
                    }
                }
            }
            Data::Fetch { items, .. } => {
                for i in items {
                    if let FetchItem::Other { raw } = i {
                        out.push(format!(
                            "FetchItem::Other {:?}",
                            String::from_utf8_lossy(raw)
                        ));
                    }
                }
            }
            _ => {}
        },
    }
    out
}

fn code_fallback(c: Option<&Code>, out: &mut Vec<String>) {
    if let Some(Code::Other { name, args }) = c {
        out.push(format!("Code::Other {:?} {:?}", name, args));
    }
}
