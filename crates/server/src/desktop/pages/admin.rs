//! The help desk's pages under `/desktop/admin/…`. Each calls a help-desk operation of the
//! service, which refuses submitter users (403) on its own; the pages add no rule of theirs.

use super::{
    Ctx, Fields, Pages, act, alert_error, alert_ok, csrf_field, field, input, ok_page, page, refusal, see_other, seg,
    textarea, view,
};
use crate::desktop::{DesktopError, NewSubmitterForm, StandingAction, rule_meaning};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use compliance::service::when;
use eligibility::Instant;
use maud::html;
use store::{Audience, ConnectionMethod, RelationshipRule};

pub(super) fn routes() -> axum::Router<Pages> {
    axum::Router::new()
        .route("/desktop/admin", get(|| async { see_other("/desktop/admin/submitters") }))
        .route("/desktop/admin/submitters", get(submitters).post(create_submitter))
        .route("/desktop/admin/submitters/{id}/standing", post(standing))
        .route("/desktop/admin/caps", get(caps))
        .route("/desktop/admin/caps/{cap}/decision", post(decide_cap))
        .route("/desktop/admin/audits", get(audits))
        .route("/desktop/admin/windows", get(windows))
        .route("/desktop/admin/maintenance", post(add_maintenance))
        .route("/desktop/admin/maintenance/{wid}/delete", post(delete_maintenance))
        .route("/desktop/admin/freezes", post(add_freeze))
        .route("/desktop/admin/freezes/{wid}/delete", post(delete_freeze))
        .route("/desktop/admin/bulletins", get(bulletins).post(compose_bulletin))
        .route("/desktop/admin/bulletins/{bid}/send", post(send_bulletin))
        .route("/desktop/admin/outbox", get(outbox))
        .route("/desktop/admin/availability", get(availability))
        .route("/desktop/admin/users", get(users).post(put_user))
        .route("/desktop/admin/users/{username}/unlock", post(unlock))
        .route("/desktop/admin/relationship-rule", get(rule).post(set_rule))
        .route("/desktop/admin/provider", get(provider))
}

fn ok_text(q: &Fields) -> Option<&str> {
    Some(field(q, "ok")).filter(|s| !s.is_empty())
}

// Submitters.

fn submitters_view(
    ctx: &Ctx,
    st: &Pages,
    form: &Fields,
    refused: Option<(StatusCode, String)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let list = st.svc.submitters(&ctx.p)?;
    let connection = field(form, "connection");
    let body = html! {
        (alert_ok(ok))
        table id="submitters" {
            thead { tr { th { "Id" } th { "Name" } th { "Status" } th { "TPA" } th { "RoB" } th { "Connection" } th { "Certificate" } } }
            tbody {
                @for s in &list {
                    tr {
                        td { a href=(format!("/desktop/s/{}", seg(&s.id))) { (s.id) } }
                        td { (s.name) br; span.hint { (s.email) } }
                        td { span class=(format!("badge {}", s.status)) { (s.status.replace('_', " ")) }
                             @if let Some(u) = s.suspended_until { br; span.hint { "until " (when(u)) } } }
                        td { (s.tpa_date.as_deref().unwrap_or("—")) }
                        td { (s.rob_date.as_deref().unwrap_or("—")) }
                        td { (s.connection.as_str()) }
                        td { (s.certificate_subject.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
        h2 { "Create a submitter" }
        div.card {
            (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
            form method="post" action="/desktop/admin/submitters" {
                (csrf_field(ctx))
                div.grid {
                    (input("id", "Submitter id", "text", field(form, "id"), Some("(ISA06, letters and digits)"), None))
                    (input("name", "Name", "text", field(form, "name"), None, None))
                    (input("email", "Contact email", "email", field(form, "email"), None, None))
                    (input("password", "Password", "password", "", Some("(12+ characters)"), None))
                    (input("tpa_date", "TPA signed", "date", field(form, "tpa_date"), None, None))
                    (input("rob_date", "Rules of Behavior acknowledged", "date", field(form, "rob_date"), None, None))
                    div.field {
                        label for="connection" { "Connection method" }
                        select id="connection" name="connection" {
                            @for c in ["soap", "mime", "both"] { option value=(c) selected[c == connection] { (c.to_uppercase()) } }
                        }
                    }
                    (input("certificate_subject", "Certificate subject", "text", field(form, "certificate_subject"), Some("(optional, CN=…)"), None))
                    (input("desktop_username", "Desktop username", "text", field(form, "desktop_username"), Some("(optional)"), None))
                }
                button type="submit" { "Create submitter" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "Submitters", Some(ctx), "submitters", body))
}

async fn submitters(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| submitters_view(ctx, st, &Fields::new(), None, ok_text(&q))).await
}

async fn create_submitter(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let connection = match field(form, "connection") {
            "soap" => ConnectionMethod::Soap,
            "mime" => ConnectionMethod::Mime,
            _ => ConnectionMethod::Both,
        };
        let f = NewSubmitterForm {
            id: field(form, "id").to_string(),
            name: field(form, "name").to_string(),
            email: field(form, "email").to_string(),
            password: form.get("password").cloned().unwrap_or_default(),
            tpa_date: field(form, "tpa_date").to_string(),
            rob_date: field(form, "rob_date").to_string(),
            connection,
            certificate_subject: Some(field(form, "certificate_subject").to_string()).filter(|s| !s.is_empty()),
            desktop_username: Some(field(form, "desktop_username").to_string()).filter(|s| !s.is_empty()),
        };
        match st.svc.create_submitter(&ctx.p, &f) {
            Ok(s) => Ok(see_other(&format!("/desktop/admin/submitters?ok=Submitter+{}+created", seg(&s.id)))),
            Err(e) => submitters_view(ctx, st, form, Some(refusal(e)?), None),
        }
    })
    .await
}

async fn standing(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let action = match field(form, "action") {
            "suspend" => StandingAction::Suspend,
            "reinstate" => StandingAction::Reinstate,
            "terminate" => StandingAction::Terminate,
            other => return Err(DesktopError::Invalid(format!("unknown action `{other}`"))),
        };
        let reason = field(form, "reason");
        if reason.is_empty() {
            return Err(DesktopError::Invalid("a standing change needs a reason (the submitter reads it)".into()));
        }
        let hours = field(form, "hours").parse().ok();
        st.svc.act(&ctx.p, &id, action, reason, hours)?;
        Ok(see_other(&format!("/desktop/s/{}", seg(&id))))
    })
    .await
}

// CAP review.

fn caps_view(
    ctx: &Ctx,
    st: &Pages,
    refused: Option<(StatusCode, String)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let caps = st.svc.caps(&ctx.p, None)?;
    let body = html! {
        (alert_ok(ok))
        (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
        @if caps.is_empty() { p.muted { "No CAP on file." } }
        @for c in caps.iter().rev() {
            div.card id=(format!("cap-{}", c.id)) {
                h2 { (c.id) " · " (c.submitter) " · " (c.subject) " " span class=(format!("badge {}", c.state.as_str())) { (c.state.as_str()) } }
                dl.facts {
                    dt { "Submitted" } dd { (when(c.submitted)) " by " (c.submitted_by) }
                    dt { "Understanding of the Rules of Behavior" } dd { (c.understanding) }
                    dt { "Steps" } dd { (c.steps) }
                    dt { "Expected error-rate reduction" } dd { (c.expected_reduction) }
                    @if let Some(d) = c.decided {
                        dt { "Decision" } dd { (when(d)) " by " (c.decided_by.as_deref().unwrap_or("")) ": " (c.comment.as_deref().unwrap_or("")) }
                    }
                }
                @if c.state == store::CapState::Submitted {
                    form method="post" action=(format!("/desktop/admin/caps/{}/decision", seg(&c.id))) {
                        (csrf_field(ctx))
                        (textarea(&format!("comment-{}", c.id), "Comment", "", Some("(required to reject)"), None))
                        button type="submit" name="decision" value="accept" { "Accept" } " "
                        button.danger type="submit" name="decision" value="reject" { "Reject" }
                    }
                }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "CAP review", Some(ctx), "admin-caps", body))
}

async fn caps(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| caps_view(ctx, st, None, ok_text(&q))).await
}

async fn decide_cap(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(cap): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let accept = field(form, "decision") == "accept";
        let comment = field(form, &format!("comment-{cap}"));
        match st.svc.decide_cap(&ctx.p, &cap, accept, comment) {
            Ok(c) => Ok(see_other(&format!("/desktop/admin/caps?ok=CAP+{}+{}", seg(&c.id), c.state.as_str()))),
            Err(DesktopError::Compliance(e)) => {
                caps_view(ctx, st, Some((StatusCode::BAD_REQUEST, e.to_string())), None)
            }
            Err(e) => caps_view(ctx, st, Some(refusal(e)?), None),
        }
    })
    .await
}

// Audit results.

async fn audits(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| {
        let today = st.svc.now().date();
        let from = Some(field(&q, "from")).filter(|s| !s.is_empty()).map_or(today.add_days(-30).to_string(), str::to_string);
        let to = Some(field(&q, "to")).filter(|s| !s.is_empty()).map_or(today.to_string(), str::to_string);
        let rows = st.svc.audits(&ctx.p, None, &from, &to)?;
        let body = html! {
            form.row method="get" action="/desktop/admin/audits" {
                (input("from", "From period", "text", &from, None, None))
                (input("to", "To period", "text", &to, None, None))
                div.field { button.secondary type="submit" { "Show" } }
            }
            @if rows.is_empty() { p.muted { "No audit results in these periods." } } @else {
                table {
                    thead { tr { th { "Period" } th { "Run" } th { "NPI audit" } th { "AAA audit" } th { "Figures" } th { "Actions" } } }
                    tbody {
                        @for a in rows.iter().rev() {
                            tr {
                                td { (a.period) } td { (when(a.at)) }
                                td { span class=(format!("badge {}", a.npi_verdict)) { (a.npi_verdict) } }
                                td { span class=(format!("badge {}", a.aaa_verdict)) { (a.aaa_verdict) } }
                                td.wrap { (super::figures(&a.figures)) }
                                td { (a.actions) }
                            }
                        }
                    }
                }
            }
        };
        ok_page("Audit results", ctx, "audits", body)
    })
    .await
}

// Maintenance and HDT freeze windows (D12).

fn windows_view(
    ctx: &Ctx,
    st: &Pages,
    form: &Fields,
    refused: Option<(StatusCode, String, &str)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let maintenance = st.svc.maintenance_windows(&ctx.p)?;
    let freezes = st.svc.freeze_windows()?;
    let err = |which: &str| refused.as_ref().filter(|(_, _, w)| *w == which).map(|(_, m, _)| m.as_str());
    let hint = Some("(UTC)");
    let table = |kind: &str, rows: &[crate::desktop::WindowView]| {
        html! {
            table {
                thead { tr { th { "Starts" } th { "Ends" } th { "Reason" } th { "" } } }
                tbody {
                    @if rows.is_empty() { tr { td colspan="4" { span.muted { "None scheduled." } } } }
                    @for w in rows {
                        tr {
                            td { (w.starts) } td { (w.ends) } td { (w.reason) }
                            td { form.inline method="post" action=(format!("/desktop/admin/{kind}/{}/delete", w.id)) {
                                (csrf_field(ctx)) button.small.secondary type="submit" { "Delete" } } }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (alert_ok(ok))
        p.hint { "Instants are RFC 3339 in UTC, e.g. " code { "2026-12-05T12:00:00Z" } "." }
        h2 { "HDT freeze windows" }
        p.hint { "During a freeze, signing in and reading keep working; every relationship change (screen, batch, API) is refused with the window's end." }
        (table("freezes", &freezes))
        div.card {
            (alert_error(err("freeze")))
            form method="post" action="/desktop/admin/freezes" {
                (csrf_field(ctx))
                div.grid {
                    (input("freeze_starts", "Starts", "text", field(form, "freeze_starts"), hint, None))
                    (input("freeze_ends", "Ends", "text", field(form, "freeze_ends"), hint, None))
                    (input("freeze_reason", "Reason", "text", field(form, "freeze_reason"), None, None))
                }
                button type="submit" { "Add freeze window" }
            }
        }
        h2 { "Maintenance windows" }
        p.hint { "The real-time endpoints answer 503 with Retry-After during a window." }
        (table("maintenance", &maintenance))
        div.card {
            (alert_error(err("maintenance")))
            form method="post" action="/desktop/admin/maintenance" {
                (csrf_field(ctx))
                div.grid {
                    (input("starts", "Starts", "text", field(form, "starts"), hint, None))
                    (input("ends", "Ends", "text", field(form, "ends"), hint, None))
                    (input("reason", "Reason", "text", field(form, "reason"), None, None))
                }
                div.field { label { input type="checkbox" name="announce" value="1"; " Email every submitter about it" } }
                button type="submit" { "Add maintenance window" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _, _)| s);
    Ok(page(status, "Maintenance and HDT freeze windows", Some(ctx), "windows", body))
}

async fn windows(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| windows_view(ctx, st, &Fields::new(), None, ok_text(&q))).await
}

fn instant(label: &str, s: &str) -> Result<Instant, DesktopError> {
    Instant::parse_rfc3339(s.trim())
        .map_err(|_| DesktopError::Invalid(format!("{label} must be an instant like 2026-12-05T12:00:00Z")))
}

async fn add_freeze(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let r = instant("the start", field(form, "freeze_starts"))
            .and_then(|s| Ok((s, instant("the end", field(form, "freeze_ends"))?)))
            .and_then(|(s, e)| st.svc.add_freeze(&ctx.p, s, e, field(form, "freeze_reason")));
        match r {
            Ok(_) => Ok(see_other("/desktop/admin/windows?ok=HDT+freeze+window+added")),
            Err(e) => {
                let (s, m) = refusal(e)?;
                windows_view(ctx, st, form, Some((s, m, "freeze")), None)
            }
        }
    })
    .await
}

async fn add_maintenance(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let announce = form.contains_key("announce");
        let r = instant("the start", field(form, "starts"))
            .and_then(|s| Ok((s, instant("the end", field(form, "ends"))?)))
            .and_then(|(s, e)| st.svc.add_maintenance(&ctx.p, s, e, field(form, "reason"), announce));
        match r {
            Ok((_, emails)) => {
                Ok(see_other(&format!("/desktop/admin/windows?ok=Maintenance+window+added;+{emails}+emails+queued")))
            }
            Err(e) => {
                let (s, m) = refusal(e)?;
                windows_view(ctx, st, form, Some((s, m, "maintenance")), None)
            }
        }
    })
    .await
}

async fn delete_maintenance(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(wid): Path<i64>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, _| {
        st.svc.delete_maintenance(&ctx.p, wid)?;
        Ok(see_other("/desktop/admin/windows?ok=Maintenance+window+deleted"))
    })
    .await
}

async fn delete_freeze(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(wid): Path<i64>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, _| {
        st.svc.delete_freeze(&ctx.p, wid)?;
        Ok(see_other("/desktop/admin/windows?ok=HDT+freeze+window+deleted"))
    })
    .await
}

// Releases and bulletins.

fn bulletins_view(
    ctx: &Ctx,
    st: &Pages,
    form: &Fields,
    refused: Option<(StatusCode, String)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let list = st.svc.bulletins(&ctx.p)?;
    let now = st.svc.now();
    let releases = st.svc.releases();
    let in_force = releases.in_force(now).id.clone();
    let c = st.svc.batch_convention();
    let audience = field(form, "audience");
    let body = html! {
        (alert_ok(ok))
        div.card {
            p { "Release in force: " strong { (in_force) } ". HDT Batch file names: " code { (c.pattern) } " (example " code { (c.example) } ")." }
        }
        table id="bulletins" {
            thead { tr { th { "Release" } th { "Title" } th { "Audience" } th { "Scheduled" } th { "Sent" } th { "" } } }
            tbody {
                @if list.is_empty() { tr { td colspan="6" { span.muted { "No bulletin yet." } } } }
                @for b in list.iter().rev() {
                    tr {
                        td { (b.release) } td { (b.title) } td { (b.audience.as_str()) } td { (when(b.scheduled)) }
                        td { @match b.sent { Some(s) => { (when(s)) }, None => { span.muted { "not yet" } } } }
                        td { @if b.sent.is_none() {
                            form.inline method="post" action=(format!("/desktop/admin/bulletins/{}/send", b.id)) {
                                (csrf_field(ctx)) button.small type="submit" { "Send now" } } } }
                    }
                }
            }
        }
        h2 { "Compose a bulletin" }
        div.card {
            (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
            form method="post" action="/desktop/admin/bulletins" {
                (csrf_field(ctx))
                div.grid {
                    div.field {
                        label for="release" { "Release" }
                        select id="release" name="release" {
                            @for r in releases.all().iter().rev() {
                                option value=(r.id) selected[r.id == field(form, "release") || (field(form, "release").is_empty() && r.id == in_force)] { (r.id) }
                            }
                        }
                    }
                    div.field {
                        label for="audience" { "Audience" }
                        select id="audience" name="audience" {
                            option value="all" selected[audience == "all"] { "All submitters" }
                            option value="soap" selected[audience == "soap"] { "Submitters connecting by SOAP" }
                            option value="mime" selected[audience == "mime"] { "Submitters connecting by MIME" }
                        }
                    }
                    (input("scheduled", "Send at", "text", field(form, "scheduled"), Some("(RFC 3339; empty: now)"), None))
                }
                (input("title", "Title", "text", field(form, "title"), None, None))
                (textarea("body", "Text", field(form, "body"), None, None))
                button type="submit" { "Save bulletin" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "Releases and bulletins", Some(ctx), "bulletins", body))
}

async fn bulletins(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| bulletins_view(ctx, st, &Fields::new(), None, ok_text(&q))).await
}

async fn compose_bulletin(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let audience = match field(form, "audience") {
            "soap" => Audience::Soap,
            "mime" => Audience::Mime,
            _ => Audience::All,
        };
        let r = match field(form, "scheduled") {
            // Not scheduled: due now (the sender takes it within a minute, or "Send now").
            "" => Ok(st.svc.now()),
            s => instant("the send instant", s),
        }
        .and_then(|at| {
            st.svc.compose_bulletin(
                &ctx.p,
                field(form, "release"),
                field(form, "title"),
                form.get("body").map_or("", |s| s.as_str()),
                audience,
                at,
            )
        });
        match r {
            Ok(_) => Ok(see_other("/desktop/admin/bulletins?ok=Bulletin+saved")),
            Err(e) => bulletins_view(ctx, st, form, Some(refusal(e)?), None),
        }
    })
    .await
}

async fn send_bulletin(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(bid): Path<i64>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| match st.svc.send_bulletin(&ctx.p, bid) {
        Ok(n) => Ok(see_other(&format!("/desktop/admin/bulletins?ok=Bulletin+sent:+{n}+emails+queued"))),
        Err(e) => bulletins_view(ctx, st, form, Some(refusal(e)?), None),
    })
    .await
}

// The outbox.

async fn outbox(State(st): State<Pages>, headers: HeaderMap) -> Response {
    view(st, headers, move |st, ctx| {
        let rows = st.svc.outbox(&ctx.p, 200)?;
        let body = html! {
            @if rows.is_empty() { p.muted { "The outbox is empty." } } @else {
                table id="outbox" {
                    thead { tr { th { "Created" } th { "Kind" } th { "Submitter" } th { "To" } th { "Subject" } th { "State" } } }
                    tbody {
                        @for m in &rows {
                            tr {
                                td { (when(m.created)) } td { (m.kind) } td { (m.submitter.as_deref().unwrap_or("—")) }
                                td.wrap { (m.to) } td.wrap { (m.subject) }
                                td.keep {
                                    @if let Some(s) = m.sent { span.badge.active { "sent " (when(s)) } }
                                    @else if m.gave_up { span.badge.fail { "gave up" } " " (m.last_error.as_deref().unwrap_or("")) }
                                    @else { span.badge.warn { "queued" } " (" (m.attempts) " attempts)" }
                                }
                            }
                        }
                    }
                }
            }
        };
        ok_page("Email outbox", ctx, "outbox", body)
    })
    .await
}

// The availability report.

async fn availability(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| {
        // Help desk only: the same refusal as the other help-desk operations.
        st.svc.submitters(&ctx.p)?;
        let today = st.svc.now().date();
        let from = x12::Date::parse_iso(field(&q, "from")).unwrap_or(today.add_days(-29));
        let to = x12::Date::parse_iso(field(&q, "to")).unwrap_or(today);
        let start = Instant::from_unix(from.days_since_epoch() * 86_400);
        let end = Instant::from_unix((to.days_since_epoch() + 1) * 86_400);
        let a = compliance::report::availability_report(st.svc.store().as_ref(), start, end)
            .map_err(|e| DesktopError::Invalid(format!("the availability report: {e}")))?;
        let pct = |s: Option<f64>| s.map_or("—".to_string(), |v| format!("{:.2}%", v * 100.0));
        let body = html! {
            form.row method="get" action="/desktop/admin/availability" {
                (input("from", "From", "date", &from.to_string(), None, None))
                (input("to", "To", "date", &to.to_string(), None, None))
                div.field { button.secondary type="submit" { "Show" } }
            }
            h2 { "Response times (CORE: 90% within 20 s)" }
            table {
                thead { tr { th { "Month" } th.num { "Responses" } th.num { "Within 3 s" } th.num { "Within 20 s" } th { "CORE" } } }
                tbody {
                    @for m in &a.months {
                        tr { td { (m.month) } td.num { (m.responses) } td.num { (pct(m.share_within_3s)) } td.num { (pct(m.share_within_20s)) }
                             td { @if m.meets_core_20s { span.badge.pass { "meets" } } @else { span.badge.fail { "misses" } } } }
                    }
                }
            }
            h2 { "Scheduled downtime (CORE: at least 86% available a week)" }
            table {
                thead { tr { th { "Week" } th { "Starts" } th.num { "Downtime (h)" } th.num { "Available" } th { "CORE" } } }
                tbody {
                    @for w in &a.weeks {
                        tr { td { (w.week) } td { (w.starts) } td.num { (format!("{:.1}", w.downtime_hours)) } td.num { (format!("{:.2}%", w.availability * 100.0)) }
                             td { @if w.meets_core_86 { span.badge.pass { "meets" } } @else { span.badge.fail { "misses" } } } }
                    }
                }
            }
        };
        ok_page("Availability report", ctx, "availability", body)
    })
    .await
}

// Desktop users.

fn users_view(
    ctx: &Ctx,
    st: &Pages,
    form: &Fields,
    refused: Option<(StatusCode, String)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let list = st.svc.users(&ctx.p)?;
    let now = st.svc.now();
    let role = field(form, "role");
    let body = html! {
        (alert_ok(ok))
        table id="users" {
            thead { tr { th { "User" } th { "Role" } th { "Submitter / NPI" } th { "Wrong passwords" } th { "Locked" } } }
            tbody {
                @for u in &list {
                    tr {
                        td { (u.username) }
                        td { (match u.role {
                            store::DesktopRole::Admin => "help desk",
                            store::DesktopRole::Submitter => "submitter user",
                            store::DesktopRole::Provider => "provider user",
                        }) }
                        td { @if let Some(npi) = &u.npi { "NPI " (npi) } @else { (u.submitter.as_deref().unwrap_or("—")) } }
                        td.num { (u.failed_attempts) }
                        td {
                            @if let Some(l) = u.locked_until.filter(|l| *l > now) {
                                "until " (when(l)) " "
                                form.inline method="post" action=(format!("/desktop/admin/users/{}/unlock", seg(&u.username))) {
                                    (csrf_field(ctx)) button.small.secondary type="submit" { "Unlock" } }
                            } @else { span.muted { "no" } }
                        }
                    }
                }
            }
        }
        h2 { "Add a user or set a password" }
        div.card {
            p.hint { "A username that exists is replaced: its role, submitter or NPI and password are set anew and it is unlocked." }
            (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
            form method="post" action="/desktop/admin/users" {
                (csrf_field(ctx))
                div.grid {
                    (input("username", "Username", "text", field(form, "username"), None, None))
                    div.field {
                        label for="role" { "Role" }
                        select id="role" name="role" {
                            @for (value, label) in [("submitter", "submitter user"), ("provider", "provider user"), ("admin", "help desk")] {
                                option value=(value) selected[value == role] { (label) }
                            }
                        }
                    }
                    (input("submitter", "Submitter id", "text", field(form, "submitter"), Some("(submitter users)"), None))
                    (input("npi", "NPI", "text", field(form, "npi"), Some("(provider users, 10 digits)"), None))
                    (input("password", "Password", "password", "", Some("(12+ characters)"), None))
                }
                button type="submit" { "Save user" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "Desktop users", Some(ctx), "users", body))
}

async fn users(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| users_view(ctx, st, &Fields::new(), None, ok_text(&q))).await
}

/// Adds a desktop user, or replaces one (the help desk's password reset), through the same
/// service call as `POST /api/users`. Only the field the role uses is read: a submitter id left
/// in the form does not make a provider user invalid.
async fn put_user(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let role = field(form, "role");
        let role =
            store::DesktopRole::parse(role).ok_or_else(|| DesktopError::Invalid(format!("unknown role `{role}`")))?;
        let given = |name: &str| Some(field(form, name).trim().to_string()).filter(|s| !s.is_empty());
        let user = store::NewDesktopUser {
            username: field(form, "username").trim().to_string(),
            role,
            submitter: given("submitter").filter(|_| role == store::DesktopRole::Submitter),
            npi: given("npi").filter(|_| role == store::DesktopRole::Provider),
            password: form.get("password").cloned().unwrap_or_default(),
        };
        match st.svc.put_user(&ctx.p, &user) {
            Ok(()) => Ok(see_other(&format!("/desktop/admin/users?ok=User+{}+saved", seg(&user.username)))),
            // An unknown submitter is a mistake in the form, said next to it.
            Err(DesktopError::NotFound(m)) => users_view(ctx, st, form, Some((StatusCode::NOT_FOUND, m)), None),
            Err(e) => users_view(ctx, st, form, Some(refusal(e)?), None),
        }
    })
    .await
}

async fn unlock(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, _| {
        st.svc.unlock_user(&ctx.p, &username)?;
        Ok(see_other("/desktop/admin/users?ok=Account+unlocked"))
    })
    .await
}

// The relationship rule (domain §5.6) and the providers' attestations.

fn rule_view(
    ctx: &Ctx,
    st: &Pages,
    refused: Option<(StatusCode, String)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let current = st.svc.relationship_rule_setting(&ctx.p)?;
    let body = html! {
        (alert_ok(ok))
        (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
        p { "Which facts let a submitter inquire for an NPI. CMS ran the vendor-declared relationships (HDT) and the providers' attestations in parallel; this setting chooses which the real-time path asks for. It takes effect within a second, on every node." }
        p.hint { "Whatever the rule, a relationship suspended for repeated inquiries (D15) or ended for good stays refused, and a 270 that fails the rule is answered with AAA 41 at 2100B." }
        div.card {
            form method="post" action="/desktop/admin/relationship-rule" {
                (csrf_field(ctx))
                fieldset.rules {
                    legend { "Rule in force: " strong id="rule-in-force" { (current.as_str()) } }
                    @for r in [RelationshipRule::Declared, RelationshipRule::Attested, RelationshipRule::Both] {
                        div.field {
                            label {
                                input type="radio" name="rule" value=(r.as_str()) checked[r == current];
                                " " strong { (r.as_str()) } " — " (rule_meaning(r))
                            }
                        }
                    }
                }
                button type="submit" { "Set the rule" }
            }
        }
        h2 { "A provider's attestations" }
        p.hint { "Providers attest their vendors on their own page; the help desk records what the MAC or CEDI enrollment received there too." }
        div.card {
            form method="get" action="/desktop/admin/provider" {
                (input("npi", "Provider NPI", "text", "", Some("(10 digits)"), None))
                button.secondary type="submit" { "Open the provider's page" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "Relationship rule", Some(ctx), "rule", body))
}

async fn rule(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |st, ctx| rule_view(ctx, st, None, ok_text(&q))).await
}

async fn set_rule(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let Some(rule) = RelationshipRule::parse(field(form, "rule")) else {
            return rule_view(
                ctx,
                st,
                Some((StatusCode::BAD_REQUEST, "choose a rule: declared, attested or both".into())),
                None,
            );
        };
        st.svc.set_relationship_rule(&ctx.p, rule)?;
        Ok(see_other(&format!("/desktop/admin/relationship-rule?ok=The+rule+is+now+{}", rule.as_str())))
    })
    .await
}

async fn provider(State(st): State<Pages>, headers: HeaderMap, Query(q): Query<Fields>) -> Response {
    view(st, headers, move |_, _| Ok(see_other(&format!("/desktop/p/{}", seg(field(&q, "npi")))))).await
}
