//! The SOAP envelope on every real-time request: reading a `COREEnvelopeRealTimeRequest` as
//! `hets send` writes it (WS-Security UsernameToken, the 270 in CDATA), and writing the
//! response around a 271. `cargo bench -p openhets-server --bench soap`.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use quick_xml::events::Event;
use server::core::{ErrorCode, Response, parse_soap, write_soap};

const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const CORE: &str = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd";
const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

fn request(x12: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{SOAP12}\" xmlns:core=\"{CORE}\">\
         <soap:Header><wsse:Security soap:mustUnderstand=\"true\" xmlns:wsse=\"{WSSE}\"><wsse:UsernameToken>\
         <wsse:Username>WDEMO001</wsse:Username><wsse:Password Type=\"{TEXT}\">demo-clearinghouse-pass</wsse:Password>\
         </wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><core:COREEnvelopeRealTimeRequest>\
         <PayloadType>X12_270_Request_005010X279A1</PayloadType><ProcessingMode>RealTime</ProcessingMode>\
         <PayloadID>0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8</PayloadID><TimeStamp>2026-12-05T14:07:55Z</TimeStamp>\
         <SenderID>WDEMO001</SenderID><ReceiverID>CMS</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion>\
         <Payload><![CDATA[{x12}]]></Payload></core:COREEnvelopeRealTimeRequest></soap:Body></soap:Envelope>"
    )
    .into_bytes()
}

/// How many events `next` reads before the end (or an error).
fn events(mut next: impl FnMut() -> bool) -> usize {
    let mut n = 0;
    while next() {
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/x12/valid/");
    let x270 = std::fs::read_to_string(format!("{root}cms-sample.x12")).unwrap_or_default();
    let x271 = std::fs::read_to_string(format!("{root}271-original-medicare.x12")).unwrap_or_default();
    let req = request(x270.trim());
    assert!(parse_soap(&req).is_ok_and(|r| r.fields.payload.as_deref() == Some(x270.trim())));
    c.bench_function("parse_soap", |b| b.iter(|| parse_soap(black_box(&req))));
    // What it is measured against: quick-xml reading the same request without looking at it,
    // plainly and with `NsReader` resolving every name (as `parse_soap` did before `Scopes`).
    c.bench_function("quick_xml_reader", |b| {
        b.iter(|| {
            let mut r = quick_xml::Reader::from_reader(black_box(&req[..]));
            events(|| !matches!(r.read_event(), Ok(Event::Eof) | Err(_)))
        })
    });
    c.bench_function("quick_xml_nsreader", |b| {
        b.iter(|| {
            let mut r = quick_xml::NsReader::from_reader(black_box(&req[..]));
            events(|| !matches!(r.read_resolved_event(), Ok((_, Event::Eof)) | Err(_)))
        })
    });
    let resp = Response {
        payload_type: "X12_271_Response_005010X279A1".into(),
        payload_id: "0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8".into(),
        time_stamp: "2026-12-05T14:07:55Z".into(),
        sender_id: "CMS".into(),
        receiver_id: "WDEMO001".into(),
        payload: Some(x271),
        error_code: ErrorCode::Success,
        error_message: "Envelope processed".into(),
    };
    c.bench_function("write_soap", |b| b.iter(|| write_soap(black_box(&resp))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
