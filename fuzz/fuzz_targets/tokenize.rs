//! Tokenizes arbitrary bytes and touches every segment, element, repetition and component.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x12::{Delimiters, tokenize};

/// The delimiters of a plausible ISA (the fixed positions of a 106-byte ISA), else the defaults.
fn delimiters(data: &[u8]) -> Delimiters {
    if data.len() >= 106 && data.starts_with(b"ISA") {
        Delimiters { element: data[3], repetition: data[82], component: data[104], segment: data[105] }
    } else {
        Delimiters::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let d = delimiters(data);
    let mut total = 0usize;
    let mut segments = tokenize(data, d);
    for seg in segments.by_ref() {
        total = total.wrapping_add(seg.id().len()).wrapping_add(seg.offset()).wrapping_add(seg.raw().len());
        assert!(seg.offset() + seg.raw().len() <= data.len());
        let (fields, n) = seg.fields::<8>();
        total = total.wrapping_add(n).wrapping_add(fields.iter().map(|f| f.len()).sum::<usize>());
        for (i, el) in seg.elements().enumerate() {
            total = total.wrapping_add(el.raw().len()).wrapping_add(usize::from(el.is_empty()));
            for rep in el.repetitions() {
                total = total.wrapping_add(rep.raw().len());
                for comp in rep.components() {
                    total = total.wrapping_add(comp.len());
                }
            }
            for comp in el.components() {
                total = total.wrapping_add(comp.len());
            }
            // Random access by X12 position agrees with iteration.
            assert_eq!(seg.element(i + 1).raw(), el.raw());
        }
        total = total.wrapping_add(seg.element(0).raw().len()).wrapping_add(seg.element(usize::MAX).raw().len());
    }
    assert!(segments.position() <= data.len());
    std::hint::black_box(total);
});
