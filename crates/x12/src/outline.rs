//! A readable listing of an interchange: one segment per line with the TR3 loop it belongs to.

use crate::envelope::{ISA_LEN, read_isa, skip_preamble};
use crate::response::Reader271;
use crate::segment::tokenize;
use crate::validate::SetValidator;
use serde::Serialize;

/// One line of the outline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutlineLine {
    /// `ISA`, `GS`, a TR3 loop id such as `2100C`, or empty for header segments.
    pub loop_id: &'static str,
    pub segment: String,
}

/// The transaction set id (ST01) of the first set in `input`, if the ISA can be read.
pub fn transaction_set_id(input: &[u8]) -> Option<String> {
    let body = &input[skip_preamble(input)..];
    let header = read_isa(body).ok()?;
    tokenize(body.get(ISA_LEN..)?, header.delimiters)
        .find(|s| s.id() == b"ST")
        .map(|s| String::from_utf8_lossy(s.element(1).raw()).into_owned())
}

/// Lists the segments of `input` with their loops. `None` when the ISA cannot be read.
pub fn outline(input: &[u8]) -> Option<Vec<OutlineLine>> {
    let body = &input[skip_preamble(input)..];
    let header = read_isa(body).ok()?;
    let mut lines =
        vec![OutlineLine { loop_id: "ISA", segment: String::from_utf8_lossy(&body[..ISA_LEN - 1]).into_owned() }];
    enum Set {
        None,
        Inquiry(Box<SetValidator>),
        Response(Box<Reader271>),
    }
    let mut set = Set::None;
    for seg in tokenize(&body[ISA_LEN..], header.delimiters) {
        let id = seg.id();
        let loop_id = match (id, &mut set) {
            (b"GS" | b"GE", _) => "GS",
            (b"IEA", _) => "ISA",
            (b"ST", _) => {
                set = match seg.element(1).raw() {
                    b"271" => Set::Response(Box::default()),
                    _ => Set::Inquiry(Box::default()),
                };
                if let Set::Inquiry(v) = &mut set {
                    v.step(&seg);
                }
                if let Set::Response(r) = &mut set {
                    r.step(&seg);
                }
                ""
            }
            (_, Set::Inquiry(v)) => v.step(&seg).map_or("?", |m| m.loop_id),
            (_, Set::Response(r)) => {
                r.step(&seg);
                r.last_loop
            }
            (_, Set::None) => "?",
        };
        lines.push(OutlineLine { loop_id, segment: String::from_utf8_lossy(seg.raw()).into_owned() });
    }
    Some(lines)
}
