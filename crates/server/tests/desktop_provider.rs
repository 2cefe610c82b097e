//! Provider attestation (issue #6, item 3) over real HTTP on loopback, against a real SQLite
//! store: a provider user attests and revokes its own NPI's vendors (by submitter id), through
//! the API and the pages, and nothing else; the help desk sets the relationship rule; under the
//! rule `attested` the provider's word is what lets a 270 through over SOAP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::{AttestationState, Store};

mod support;

use support::{HELPDESK, PASSWORD, Reply, World, csrf_of, form, http, submitter_user, sync};

/// The persona provider (BAYSIDE FAMILY MEDICINE) and its provider user.
const NPI: &str = "1125213722";
const PROVIDER: &str = "npi1125213722";
/// Another enrolled provider, whose attestations are not the first provider's business.
const OTHER_NPI: &str = "1497429880";

async fn world() -> World {
    support::world(&[
        submitter_user("wdemo001", "WDEMO001"),
        HELPDESK,
        (PROVIDER, store::DesktopRole::Provider, None, Some(NPI)),
    ])
    .await
}

/// A signed-in API client (bearer token).
struct Client {
    addr: SocketAddr,
    token: String,
}

impl Client {
    async fn sign_in(addr: SocketAddr, user: &str) -> (Client, Value) {
        let body = json!({ "username": user, "password": PASSWORD }).to_string();
        let r = http(addr, "POST", "/api/session", &[("Content-Type", "application/json")], &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        (Client { addr, token: v["token"].as_str().unwrap().to_string() }, v)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {}", self.token);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        http(self.addr, method, path, &[("Authorization", &auth), ("Content-Type", "application/json")], &body).await
    }
}

/// A browser-like session on the pages: the cookie and the CSRF token the forms carry.
struct Browser {
    addr: SocketAddr,
    cookie: String,
    csrf: String,
    /// Where `/desktop` sends this user.
    home: String,
}

impl Browser {
    async fn sign_in(addr: SocketAddr, user: &str) -> Browser {
        let page = http(addr, "GET", "/desktop/signin", &[], "").await;
        let signin = page.headers["set-cookie"].split(';').next().unwrap().to_string();
        let body = form(&[("csrf", &csrf_of(&page.body)), ("username", user), ("password", PASSWORD)]);
        let headers = [("Cookie", signin.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        let r = http(addr, "POST", "/desktop/signin", &headers, &body).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let cookie = r.headers["set-cookie"].split(';').next().unwrap().to_string();
        let mut b = Browser { addr, cookie, csrf: String::new(), home: String::new() };
        b.home = b.get("/desktop").await.headers["location"].clone();
        b.csrf = csrf_of(&b.get(&b.home).await.body);
        b
    }

    async fn get(&self, path: &str) -> Reply {
        http(self.addr, "GET", path, &[("Cookie", &self.cookie)], "").await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form(fields);
        let headers = [("Cookie", self.cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        http(self.addr, "POST", path, &headers, &body).await
    }
}

fn state_of(store: &Arc<dyn Store>, npi: &str, submitter: &str) -> Option<AttestationState> {
    sync(|| store.attestation(npi, submitter)).unwrap().map(|a| a.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_attests_for_its_own_npi_only() {
    let w = world().await;
    let (provider, session) = Client::sign_in(w.addr, PROVIDER).await;
    assert_eq!((session["role"].as_str(), session["npi"].as_str()), (Some("provider"), Some(NPI)));
    assert_eq!(session["submitter"], Value::Null);
    let own = format!("/api/providers/{NPI}/attestations");
    assert_eq!(provider.call("GET", &own, None).await.json(), json!([]));

    // Another NPI: neither attested nor read, and nothing is written.
    let other = format!("/api/providers/{OTHER_NPI}/attestations");
    let r = provider.call("PUT", &format!("{other}/WDEMO001"), Some(json!({ "state": "attested" }))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("its own NPI"), "{}", r.body);
    assert_eq!(state_of(&w.store, OTHER_NPI, "WDEMO001"), None);
    assert_eq!(provider.call("GET", &other, None).await.status, 403);

    // Its own NPI, by a vendor's submitter id that must exist.
    let r = provider.call("PUT", &format!("{own}/WNOSUCH1"), Some(json!({ "state": "attested" }))).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(state_of(&w.store, NPI, "WNOSUCH1"), None);
    let r = provider.call("PUT", &format!("{own}/WDEMO002"), Some(json!({ "state": "attested" }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "attested");
    assert_eq!(state_of(&w.store, NPI, "WDEMO002"), Some(AttestationState::Attested));
    let list = provider.call("GET", &own, None).await.json();
    assert_eq!((list[0]["submitter"].as_str(), list[0]["state"].as_str()), (Some("WDEMO002"), Some("attested")));
    let r = provider.call("PUT", &format!("{own}/WDEMO002"), Some(json!({ "state": "revoked" }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state_of(&w.store, NPI, "WDEMO002"), Some(AttestationState::Revoked));

    // Nothing of the submitters' or the help desk's.
    for path in ["/api/submitters/WDEMO001/status", "/api/submitters/WDEMO001/relationships", "/api/users", "/api/caps"]
    {
        assert_eq!(provider.call("GET", path, None).await.status, 403, "{path}");
    }
    let r = provider.call("PUT", "/api/settings/relationship-rule", Some(json!({ "rule": "attested" }))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(provider.call("GET", "/api/settings/relationship-rule", None).await.json()["rule"], "declared");

    // A vendor cannot vouch for itself; the help desk keeps its power over any NPI.
    let (submitter, _) = Client::sign_in(w.addr, "wdemo001").await;
    let r = submitter.call("PUT", &format!("{own}/WDEMO001"), Some(json!({ "state": "attested" }))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(state_of(&w.store, NPI, "WDEMO001"), None);
    let (admin, _) = Client::sign_in(w.addr, "helpdesk").await;
    let r = admin.call("PUT", &format!("{other}/WDEMO004"), Some(json!({ "state": "attested" }))).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The help desk creates provider users through the API, for an enrolled NPI only.
    let user = json!({ "username": "npi1497429880", "role": "provider", "npi": OTHER_NPI, "password": PASSWORD });
    assert_eq!(admin.call("POST", "/api/users", Some(user)).await.status, 201);
    let bad = json!({ "username": "npibad", "role": "provider", "npi": "1125213723", "password": PASSWORD });
    assert_eq!(admin.call("POST", "/api/users", Some(bad)).await.status, 400);
    let (second, _) = Client::sign_in(w.addr, "npi1497429880").await;
    assert_eq!(second.call("GET", &other, None).await.json()[0]["submitter"], "WDEMO004");
    assert_eq!(second.call("GET", &own, None).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_page_attests_and_revokes_and_refuses_other_npis() {
    let w = world().await;
    let b = Browser::sign_in(w.addr, PROVIDER).await;
    assert_eq!(b.home, format!("/desktop/p/{NPI}"));
    let page = b.get(&b.home).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("BAYSIDE FAMILY MEDICINE"), "{}", page.body);
    assert!(page.body.contains("id=\"rule-in-force\">declared<"), "the rule in force is shown");
    assert!(page.body.contains("declared a relationship"), "and what it means");

    // Every form needs the session's CSRF token.
    let r = b.post(&b.home, &[("submitter", "WDEMO002"), ("state", "attested")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(state_of(&w.store, NPI, "WDEMO002"), None);

    let r = b.post(&b.home, &[("csrf", &b.csrf), ("submitter", "WDEMO002"), ("state", "attested")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(state_of(&w.store, NPI, "WDEMO002"), Some(AttestationState::Attested));
    let page = b.get(&r.headers["location"]).await;
    assert!(page.body.contains("The vendor is attested."), "{}", page.body);
    assert!(page.body.contains("Revoke WDEMO002"), "{}", page.body);

    // An unknown vendor is shown next to the form.
    let r = b.post(&b.home, &[("csrf", &b.csrf), ("submitter", "WNOSUCH1"), ("state", "attested")]).await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("no submitter (vendor) WNOSUCH1"), "{}", r.body);

    let r = b.post(&b.home, &[("csrf", &b.csrf), ("submitter", "WDEMO002"), ("state", "revoked")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(state_of(&w.store, NPI, "WDEMO002"), Some(AttestationState::Revoked));

    // Another NPI's page and form, a submitter's pages and the help desk's: 403.
    let other = format!("/desktop/p/{OTHER_NPI}");
    assert_eq!(b.get(&other).await.status, 403);
    let r = b.post(&other, &[("csrf", &b.csrf), ("submitter", "WDEMO001"), ("state", "attested")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(state_of(&w.store, OTHER_NPI, "WDEMO001"), None);
    for path in ["/desktop/s/WDEMO001", "/desktop/s/WDEMO001/relationships", "/desktop/admin/relationship-rule"] {
        assert_eq!(b.get(path).await.status, 403, "{path}");
    }
    let r = b.post("/desktop/admin/relationship-rule", &[("csrf", &b.csrf), ("rule", "attested")]).await;
    assert_eq!(r.status, 403);

    // A submitter user cannot open a provider's page or attest itself there.
    let s = Browser::sign_in(w.addr, "wdemo001").await;
    assert_eq!(s.get(&b.home).await.status, 403);
    let r = s.post(&b.home, &[("csrf", &s.csrf), ("submitter", "WDEMO001"), ("state", "attested")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(state_of(&w.store, NPI, "WDEMO001"), None);

    // The help desk sets the rule on its page and opens any provider's page.
    let a = Browser::sign_in(w.addr, "helpdesk").await;
    let rule = a.get("/desktop/admin/relationship-rule").await;
    assert_eq!(rule.status, 200);
    assert!(rule.body.contains("/desktop/admin/relationship-rule"), "linked in the nav");
    let r = a.post("/desktop/admin/relationship-rule", &[("rule", "both")]).await;
    assert_eq!(r.status, 403, "CSRF");
    let r = a.post("/desktop/admin/relationship-rule", &[("csrf", &a.csrf), ("rule", "both")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(sync(|| w.store.setting("relationship_rule")).unwrap().as_deref(), Some("both"));
    assert!(a.get(&r.headers["location"]).await.body.contains("id=\"rule-in-force\">both<"));
    assert_eq!(a.get(&format!("/desktop/admin/provider?npi={OTHER_NPI}")).await.headers["location"], other);
    assert_eq!(a.get(&other).await.status, 200);
    assert!(b.get(&b.home).await.body.contains("id=\"rule-in-force\">both<"), "the provider sees the new rule");
}

/// The CMS sample 270 (NPI 1125213722) as WDEMO001, over SOAP.
async fn inquire(w: &World) -> String {
    let payload = include_str!("../../../tests/data/x12/valid/cms-sample.x12").trim();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!("{:08x}-0000-4000-9000-{n:012x}", std::process::id());
    let body = format!(
        r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>WDEMO001</wsse:Username><wsse:Password>demo-clearinghouse-pass</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><c:COREEnvelopeRealTimeRequest xmlns:c="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"><PayloadType>X12_270_Request_005010X279A1</PayloadType><ProcessingMode>RealTime</ProcessingMode><PayloadID>{id}</PayloadID><TimeStamp>2026-12-01T12:00:00Z</TimeStamp><SenderID>WDEMO001</SenderID><ReceiverID>CMS</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion><Payload><![CDATA[{payload}]]></Payload></c:COREEnvelopeRealTimeRequest></soap:Body></soap:Envelope>"#
    );
    let headers = [("Content-Type", "application/soap+xml; charset=utf-8")];
    let r = http(w.addr, "POST", "/eligibility/realtime/soap", &headers, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_rule_attested_the_providers_word_lets_a_270_through() {
    let w = world().await;
    // Under the default rule the declared relationship (WDEMO001 declares 1125213722) suffices.
    assert!(!inquire(&w).await.contains("*41*"), "declared: answered");
    // The rule is set before the next 270 reads it fresh: the real-time path trusts a rule it
    // read for a second, so wait that second out.
    let admin = Browser::sign_in(w.addr, "helpdesk").await;
    let r = admin.post("/desktop/admin/relationship-rule", &[("csrf", &admin.csrf), ("rule", "attested")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(inquire(&w).await.contains("AAA*N**41*N"), "unattested: AAA 41");

    let (provider, _) = Client::sign_in(w.addr, PROVIDER).await;
    let path = format!("/api/providers/{NPI}/attestations/WDEMO001");
    let r = provider.call("PUT", &path, Some(json!({ "state": "attested" }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = inquire(&w).await;
    assert!(!answer.contains("*41*"), "attested: answered");
    assert!(answer.contains("EB*"), "a 271 with benefits: {answer}");

    // Revoked on the provider's page: refused again at once (attestations are not cached).
    let b = Browser::sign_in(w.addr, PROVIDER).await;
    let r = b.post(&b.home, &[("csrf", &b.csrf), ("submitter", "WDEMO001"), ("state", "revoked")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(inquire(&w).await.contains("AAA*N**41*N"), "revoked: AAA 41");
}
