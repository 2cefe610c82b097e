//! A 271 as a front desk reads it: is the patient covered, by what, what does he or she owe,
//! and when is a preventive service next covered.

use std::fmt::Write as _;
use x12::{Aaa, Benefit, DateValue, Response271, ResponseDate};

/// Plain-words meaning of an AAA03 code (the ones HETS uses; see the companion guide).
pub fn aaa_reason(code: &str) -> &'static str {
    match code {
        "15" => "required application data missing",
        "41" => "no active relationship between the submitter and this provider (or it is suspended)",
        "42" => "the eligibility service cannot answer right now; try again later",
        "43" => "provider NPI missing or invalid",
        "50" => "provider's Medicare enrollment has ended",
        "51" => "provider is not enrolled in Medicare",
        "57" => "invalid or missing dates of service",
        "58" => "invalid or missing date of birth",
        "62" => "dates of service outside the allowed inquiry period",
        "71" => "date of birth does not match",
        "72" => "invalid or missing Medicare Beneficiary Identifier",
        "73" => "invalid or missing name, or the name does not match",
        "74" => "gender does not match",
        "75" => "beneficiary not found",
        "79" => "invalid payer: this system answers for CMS (Medicare)",
        _ => "see the companion guide",
    }
}

fn follow_up(code: &str) -> &'static str {
    match code {
        "C" => "correct and resubmit",
        "N" => "do not resubmit",
        "R" => "resubmission allowed",
        "P" => "resubmit the original transaction",
        _ => "",
    }
}

fn insurance(code: &str) -> &'static str {
    match code {
        "MA" => "Medicare Part A",
        "MB" => "Medicare Part B",
        "OT" => "Medicare Part D (prescription drugs)",
        "HM" | "HN" | "IN" | "PR" | "PS" => "Medicare Advantage plan",
        "QM" => "Qualified Medicare Beneficiary (owes no Medicare cost sharing)",
        "12" => "Medicare is secondary: working aged, employer group health plan",
        "13" => "Medicare is secondary: ESRD coordination period",
        "14" => "Medicare is secondary: no-fault insurance",
        "15" => "Medicare is secondary: workers' compensation",
        "16" => "Medicare is secondary: public health service or other federal agency",
        "41" => "Medicare is secondary: black lung",
        "42" => "Medicare is secondary: veterans affairs",
        "43" => "Medicare is secondary: disabled, large group health plan",
        "47" => "Medicare is secondary: other liability insurance",
        "AP" => "Medicare is secondary: auto no-fault set-aside",
        "LT" => "Medicare is secondary: litigation set-aside",
        "WC" => "Medicare is secondary: workers' compensation set-aside",
        _ => "",
    }
}

fn date_text(d: &ResponseDate) -> String {
    match d.value {
        DateValue::Single(x) => x.to_string(),
        DateValue::Range(a, b) => format!("{a} to {b}"),
    }
}

fn first_date(b: &Benefit, qualifier: &str) -> Option<String> {
    b.dates.iter().find(|d| d.qualifier == qualifier).map(date_text)
}

fn aaa_lines(out: &mut String, who: &str, list: &[Aaa]) {
    for a in list {
        let _ = writeln!(out, "  ! {who}: AAA {} - {} ({})", a.reason, aaa_reason(&a.reason), follow_up(&a.follow_up));
    }
}

/// Renders a 271 for people.
pub fn explain(r: &Response271) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Eligibility response {} (reference {})",
        r.date.map(|d| d.to_string()).unwrap_or_default(),
        r.reference
    );
    aaa_lines(&mut out, "payer", &r.source.aaa);
    if let Some(rc) = &r.receiver {
        let _ = writeln!(out, "Provider: {} (NPI {})", rc.name.last, rc.name.id);
        aaa_lines(&mut out, "provider", &rc.aaa);
    }
    let Some(s) = &r.subscriber else {
        let _ = writeln!(out, "No beneficiary information: the request was not answered.");
        return out;
    };
    let n = &s.name;
    let mut full = format!("{} {}", n.first, n.last);
    if !n.middle.is_empty() {
        full = format!("{} {} {}", n.first, n.middle, n.last);
    }
    if !n.suffix.is_empty() {
        full.push(' ');
        full.push_str(&n.suffix);
    }
    let _ = writeln!(out, "Beneficiary: {full} (MBI {})", n.id);
    if let Some(d) = &s.demographics {
        let _ = writeln!(
            out,
            "  born {}{}",
            d.birth_date,
            if d.gender.is_empty() { String::new() } else { format!(", gender {}", d.gender) }
        );
    }
    if let Some(a) = &s.address {
        let street = if a.line2.is_empty() { a.line1.clone() } else { format!("{}, {}", a.line1, a.line2) };
        let _ = writeln!(out, "  {street}, {} {} {}", a.city, a.state, a.zip);
    }
    for d in &s.dates {
        match d.qualifier.as_ref() {
            "307" => {
                let _ = writeln!(out, "  asked about: {}", date_text(d));
            }
            "442" => {
                let _ = writeln!(out, "  DATE OF DEATH: {}", date_text(d));
            }
            _ => {}
        }
    }
    aaa_lines(&mut out, "beneficiary", &s.aaa);
    if !s.aaa.is_empty() {
        let _ = writeln!(out, "No eligibility data: correct the request as indicated.");
        return out;
    }

    let mut coverage = Vec::new();
    let mut owes = Vec::new();
    let mut preventive = Vec::new();
    let mut plans = Vec::new();
    let mut other = Vec::new();
    for b in &s.benefits {
        let e = &b.eb;
        let what = insurance(&e.insurance_type);
        let proc = e.procedure.get(1).cloned().unwrap_or_default();
        match e.info.as_ref() {
            "1" if !what.is_empty() => coverage.push(format!(
                "COVERED   {what}{}",
                first_date(b, "291").map(|d| format!(" (since {d})")).unwrap_or_default()
            )),
            "6" => coverage.push(format!(
                "INACTIVE  {}{}",
                if what.is_empty() { "Medicare" } else { what },
                first_date(b, "307").map(|d| format!(" ({d})")).unwrap_or_default()
            )),
            "C" if proc.is_empty() && e.period == "29" && e.service_types.first().is_some_and(|t| t == "30") => owes
                .push(format!(
                    "{} deductible remaining: ${} ({})",
                    what,
                    e.amount,
                    first_date(b, "291").unwrap_or_default()
                )),
            "A" if proc.is_empty() && e.service_types.first().is_some_and(|t| t == "30") => {
                owes.push(format!("{what} coinsurance: {}%", percent(&e.percent)))
            }
            "D" | "I" if !proc.is_empty() => {
                let line = if e.info == "I" {
                    format!("{proc}: not covered again (once per lifetime, already used)")
                } else if let Some(d) = b.dates.iter().find(|d| d.qualifier == "348") {
                    match (d.value, r.date) {
                        (DateValue::Single(next), Some(today)) if next <= today => {
                            format!("{proc}: eligible now (since {next})")
                        }
                        _ => format!("{proc}: next eligible {}", date_text(d)),
                    }
                } else if let Some(d) = first_date(b, "472") {
                    let npi = b.related.first().map(|r| r.name.id.clone()).unwrap_or_default();
                    format!("{proc}: paid service on {d} (NPI {npi})")
                } else {
                    format!("{proc}: no paid service on file")
                };
                preventive.push(line);
            }
            "R" => {
                let name = b.related.first().map(|r| r.name.last.clone()).unwrap_or_default();
                let id = b.references.first().map(|r| format!(" {}", r.value)).unwrap_or_default();
                let mut line = format!("{}{id}", if what.is_empty() { "Other payer" } else { what });
                if !name.is_empty() {
                    line.push_str(&format!(": {name}"));
                }
                if !e.plan_description.is_empty() {
                    line.push_str(&format!(": {}", e.plan_description));
                }
                if let Some(d) = b.dates.first() {
                    line.push_str(&format!(" ({})", date_text(d)));
                }
                if let Some(phone) =
                    b.related.iter().flat_map(|r| &r.contacts).flat_map(|c| &c.numbers).find(|(q, _)| q == "TE")
                {
                    line.push_str(&format!(", phone {}", phone.1));
                }
                plans.push(line);
            }
            "X" if e.service_types.first().is_some_and(|t| t == "45") => other.push(format!(
                "Hospice election {}{}",
                first_date(b, "292").unwrap_or_default(),
                b.messages.first().map(|m| format!(" ({m})")).unwrap_or_default()
            )),
            "X" if e.service_types.first().is_some_and(|t| t == "42") => {
                other.push(format!("Home health period {}", first_date(b, "472").unwrap_or_default()))
            }
            "D" if e.service_types.first().is_some_and(|t| matches!(t.as_ref(), "14" | "15" | "16")) => {
                other.push(format!("ESRD / dialysis since {}", first_date(b, "356").unwrap_or_default()))
            }
            _ => {}
        }
    }
    for (title, list) in [
        ("Coverage", &coverage),
        ("What the patient owes", &owes),
        ("Other payers and plans", &plans),
        ("Preventive services", &preventive),
        ("Also on file", &other),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:");
        for l in list {
            let _ = writeln!(out, "  {l}");
        }
    }
    out
}

fn percent(decimal: &str) -> String {
    match decimal.parse::<f64>() {
        Ok(v) => crate::format_percent(v),
        Err(_) => decimal.to_string(),
    }
}
