//! Peer tests over HTTP: a minimal loopback endpoint in front of [`Sts::handle`].

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use practicebox_xmlsec::wsse;

use super::*;
use crate::sts::Sts;
use crate::sts::tests::{config, fixture, now, recognised};

/// Serves the STS path on `127.0.0.1:0` over plain HTTP and returns the base URL.
async fn serve_sts(sts: Arc<Sts>) -> String {
    let handler = move |headers: HeaderMap, envelope: String| {
        let sts = Arc::clone(&sts);
        async move {
            let action = headers
                .get("SOAPAction")
                .and_then(|value| value.to_str().ok())
                .map(|value| value.trim_matches('"').to_owned());
            match sts.handle(&envelope, action.as_deref(), now()) {
                Ok(reply) => (StatusCode::OK, soap_envelope(&reply.body)),
                Err(fault) => {
                    let body = format!(
                        r#"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>{}</faultstring><detail><err:SystemError xmlns:err="urn:be:fgov:ehealth:errors:soa:v1"><Origin>Server</Origin><Code>{}</Code></err:SystemError></detail></soap:Fault>"#,
                        escape(&fault.message),
                        fault.code
                    );
                    (StatusCode::INTERNAL_SERVER_ERROR, soap_envelope(&body))
                }
            }
        }
    };
    let app = Router::new().route(STS_PATH, post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn soap_envelope(body: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="{}"><soap:Body>{body}</soap:Body></soap:Envelope>"#,
        ns::SOAP
    )
}

fn peer(base_url: &str) -> Peer {
    let ca = fixture().pki.root.certificate_der();
    Peer::new(base_url, &[ca]).expect("peer client")
}

#[tokio::test]
async fn direct_token_over_http() {
    let doctor = recognised();
    let sts = Arc::new(Sts::new(config()).expect("STS"));
    let base_url = serve_sts(Arc::clone(&sts)).await;
    let credential = &doctor.authentication;

    let assertion = peer(&base_url)
        .request_token(
            credential,
            credential,
            &TokenRequest::doctor(&doctor.spec.ssin),
            now(),
        )
        .await
        .expect("token");

    let sts_key =
        practicebox_xmlsec::dsig::certificate_public_key(sts.certificate_der()).expect("STS key");
    let assertion_id =
        wsse::verify_assertion_text(&assertion, &sts_key).expect("assertion signature");
    assert_eq!(sts.issued_tokens().len(), 1);
    assert_eq!(sts.issued_tokens()[0].assertion_id, assertion_id);
}

#[tokio::test]
async fn challenge_token_over_http() {
    let doctor = recognised();
    let sts = Arc::new(Sts::new(config()).expect("STS"));
    let base_url = serve_sts(Arc::clone(&sts)).await;

    let assertion = peer(&base_url)
        .request_token(
            &fixture().second_credential,
            &doctor.authentication,
            &TokenRequest::doctor(&doctor.spec.ssin),
            now(),
        )
        .await
        .expect("token after the challenge");

    let issued = sts.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].assertion_xml, assertion);
    assert_eq!(
        issued[0].holder_of_key_subject,
        doctor.authentication.subject()
    );
}

#[tokio::test]
async fn fault_reaches_caller() {
    let stranger = &fixture().other.doctors[0];
    let sts = Arc::new(Sts::new(config()).expect("STS"));
    let base_url = serve_sts(sts).await;
    let credential = &stranger.authentication;

    let result = peer(&base_url)
        .request_token(
            credential,
            credential,
            &TokenRequest::doctor(&stranger.spec.ssin),
            now(),
        )
        .await;
    match result {
        Err(PeerError::Fault { code, message }) => {
            assert_eq!(code, "SOA-01001");
            assert!(
                message.contains("certificate rejected"),
                "message: {message}"
            );
        }
        other => panic!("expected SOA-01001, got {other:?}"),
    }
}
