//! A provider's page under `/desktop/p/{npi}` (domain §5.6): the vendors the NPI has attested
//! or revoked, by the vendor's submitter id, and the relationship rule they count under. The
//! NPI's provider user and the help desk see it; the service refuses anyone else (403), so the
//! page adds no rule of its own.

use super::{
    Ctx, Fields, Pages, act, alert_error, alert_ok, csrf_field, field, input, page, refusal, see_other, seg, view,
};
use crate::desktop::{DesktopError, rule_meaning};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use compliance::service::when;
use maud::html;
use store::AttestationState;

pub(super) fn routes() -> axum::Router<Pages> {
    axum::Router::new().route("/desktop/p/{npi}", get(attestations).post(attest))
}

fn attestations_view(
    st: &Pages,
    ctx: &Ctx,
    npi: &str,
    form: &Fields,
    refused: Option<(StatusCode, String)>,
    ok: Option<&str>,
) -> Result<Response, DesktopError> {
    let v = st.svc.provider_attestations(&ctx.p, npi)?;
    let action = format!("/desktop/p/{}", seg(npi));
    let body = html! {
        (alert_ok(ok))
        div.card id="rule" {
            dl.facts {
                dt { "Provider" } dd { (v.npi) @if let Some(n) = &v.name { " · " (n) } }
                dt { "Relationship rule" } dd { span.badge id="rule-in-force" { (v.rule.as_str()) } }
                dt { "What it means" } dd { (rule_meaning(v.rule)) " Otherwise the inquiry is refused with AAA 41." }
            }
        }
        h2 { "Vendors" }
        p.hint { "A vendor is a submitter (clearinghouse or billing service) that sends eligibility inquiries for you. Attest the ones you use; revoke the ones you no longer use." }
        table id="attestations" {
            thead { tr { th { "Vendor (submitter id)" } th { "State" } th { "Since" } th { "" } } }
            tbody {
                @if v.attestations.is_empty() { tr { td colspan="4" { span.muted { "No vendor attested yet." } } } }
                @for a in &v.attestations {
                    tr {
                        td { (a.submitter) }
                        td { span class=(format!("badge {}", a.state.as_str())) { (a.state.as_str()) } }
                        td { (when(a.at)) }
                        td {
                            form.inline method="post" action=(action) {
                                (csrf_field(ctx))
                                input type="hidden" name="submitter" value=(a.submitter);
                                @if a.state == AttestationState::Attested {
                                    input type="hidden" name="state" value="revoked";
                                    button.small.danger type="submit" aria-label=(format!("Revoke {}", a.submitter)) { "Revoke" }
                                } @else {
                                    input type="hidden" name="state" value="attested";
                                    button.small.secondary type="submit" aria-label=(format!("Attest {} again", a.submitter)) { "Attest again" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Attest a vendor" }
        div.card {
            (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
            form method="post" action=(action) {
                (csrf_field(ctx))
                input type="hidden" name="state" value="attested";
                (input("submitter", "Vendor's submitter id", "text", field(form, "submitter"), Some("(ask your vendor: the id it sends inquiries under)"), None))
                button type="submit" { "Attest" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, &format!("Vendor attestations · NPI {npi}"), Some(ctx), "provider", body))
}

async fn attestations(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(npi): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    view(st, headers, move |st, ctx| {
        let ok = match field(&q, "ok") {
            "attested" => Some("The vendor is attested."),
            "revoked" => Some("The attestation is revoked."),
            _ => None,
        };
        attestations_view(st, ctx, &npi, &Fields::new(), None, ok)
    })
    .await
}

async fn attest(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(npi): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let attested = match field(form, "state") {
            "attested" => true,
            "revoked" => false,
            _ => return Err(DesktopError::Invalid("the state is attested or revoked".into())),
        };
        match st.svc.attest(&ctx.p, &npi, field(form, "submitter"), attested) {
            Ok(a) => Ok(see_other(&format!("/desktop/p/{}?ok={}", seg(&npi), a.state.as_str()))),
            Err(DesktopError::NotFound(m)) => {
                // An unknown vendor id is the person's typing mistake: shown next to the field.
                attestations_view(st, ctx, &npi, form, Some((StatusCode::NOT_FOUND, m)), None)
            }
            Err(e) => {
                let refused = refusal(e)?;
                attestations_view(st, ctx, &npi, form, Some(refused), None)
            }
        }
    })
    .await
}
