//! The live graph's duplicates and bounded writes, over HTTP (issue 4): risk responses list
//! duplicates with their explanation and reasons, `POST /v1/risk/evaluate` finds them without
//! saving anything, and a re-link (which trains the model on the store) keeps them.

// The test bodies are plain functions run by `on_both_stores!`, outside clippy's
// allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::serve::{Db, TestApp, on_both_stores, pg_url};

on_both_stores!(
    a_duplicate_is_found_within_the_write_with_its_explanation_and_reasons,
    evaluate_finds_duplicates_and_saves_nothing,
);

const FIRSTS: &[&str] = &[
    "Amelia", "Bruno", "Chiara", "Dmitri", "Esther", "Farid", "Greta", "Hiroshi", "Ingrid",
    "Jamal", "Kofi", "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven",
    "Tariq",
];
const LASTS: &[&str] = &[
    "Abbott",
    "Bergstrom",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fujimoto",
    "Gallagher",
    "Horvath",
    "Iwu",
    "Jankowski",
];

fn person(i: usize) -> Value {
    json!({
        "id": format!("acct_p{i:03}"),
        "name_first": FIRSTS[i % FIRSTS.len()],
        "name_last": LASTS[(i / FIRSTS.len()) % LASTS.len()],
        "birthdate": format!("19{:02}-{:02}-{:02}", 50 + i % 45, 1 + i % 12, 1 + i % 28),
        "email": format!("person{i}@example.org"),
        "phone": format!("+1415555{:04}", 1000 + i),
        "gov_id_number": format!("{:09}", 100_000_000 + i * 7919),
        "gov_id_country": "US",
    })
}

async fn populated(db: Db) -> (TestApp, String) {
    let app = TestApp::new(db).await;
    let token = app
        .key(&["accounts:write", "inquiries:write", "risk:read"])
        .await;
    for i in 0..200 {
        let r = app
            .call("POST", "/v1/accounts", Some(&token), Some(person(i)))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // Train the duplicate model on the store's records.
    let r = app
        .call("POST", "/v1/admin/relink", Some(&app.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (app, token)
}

/// Person 7 (Hiroshi Abbott, 1957-08-08) registering again with a typo in the first name, a
/// one-digit typo in the ID number and another email and phone.
fn twin_of_7() -> Value {
    let mut p = person(7);
    p["id"] = json!("acct_twin");
    p["name_first"] = json!("Hiroshy");
    let gov = p["gov_id_number"].as_str().unwrap().to_owned();
    let typo = format!(
        "{}{}",
        &gov[..8],
        if gov.ends_with('1') { '2' } else { '1' }
    );
    p["gov_id_number"] = json!(typo);
    p["email"] = json!("h.abbott@example.net");
    p["phone"] = json!("+14155550000");
    p
}

async fn a_duplicate_is_found_within_the_write_with_its_explanation_and_reasons(db: Db) {
    let (app, token) = populated(db).await;
    let r = app
        .call("POST", "/v1/accounts", Some(&token), Some(twin_of_7()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let dups = r.body["risk"]["duplicates"]
        .as_array()
        .expect("duplicates")
        .clone();
    assert_eq!(dups.len(), 1, "{}", r.body["risk"]);
    let d = &dups[0];
    assert_eq!(d["id"], "acct_p007");
    assert_eq!(d["entity_type"], "account");
    assert!(d["match_probability"].as_f64().unwrap() >= 0.9, "{d}");
    let fields: Vec<&str> = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "first_name",
            "last_name",
            "birthdate",
            "gov_id",
            "email",
            "phone",
            "address"
        ]
    );
    // Levels and weights only: no value of either record appears in the explanation.
    let text = d.to_string().to_lowercase();
    for v in ["hiroshi", "hiroshy", "abbott", "1957", "example"] {
        assert!(!text.contains(v), "{v} in {text}");
    }
    let codes: Vec<&str> = r.body["risk"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"possible_duplicate"), "{codes:?}");
    assert_eq!(r.body["risk"]["score_pending"], false);
    // Both sides see the pair on GET.
    for (id, other) in [("acct_twin", "acct_p007"), ("acct_p007", "acct_twin")] {
        let g = app
            .call(
                "GET",
                &format!("/v1/accounts/{id}/risk"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(g.status, StatusCode::OK, "{}", g.body);
        assert_eq!(g.body["duplicates"][0]["id"], other, "{}", g.body);
    }
    // An inquiry of the twin carries its account's duplicates.
    let q = app
        .call(
            "POST",
            "/v1/inquiries",
            Some(&token),
            Some(json!({"id": "inq_twin_1", "account_id": "acct_twin", "device_id": "dev-twin"})),
        )
        .await;
    assert_eq!(q.status, StatusCode::CREATED, "{}", q.body);
    assert_eq!(q.body["risk"]["duplicates"][0]["id"], "acct_p007");
    // Labelling person 7 fraud gives the twin `duplicate_of_fraud`.
    let l = app
        .call(
            "POST",
            "/v1/accounts/acct_p007/label",
            Some(&app.admin),
            Some(json!({"label": "fraud"})),
        )
        .await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    let g = app
        .call("GET", "/v1/accounts/acct_twin/risk", Some(&token), None)
        .await;
    assert!(
        g.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "duplicate_of_fraud"),
        "{}",
        g.body
    );
    // A re-link (a new model from the store) keeps the pair.
    let r = app
        .call("POST", "/v1/admin/relink", Some(&app.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = app
        .call("GET", "/v1/accounts/acct_twin/risk", Some(&token), None)
        .await;
    assert_eq!(g.body["duplicates"][0]["id"], "acct_p007", "{}", g.body);
}

async fn evaluate_finds_duplicates_and_saves_nothing(db: Db) {
    let (app, token) = populated(db).await;
    let before = app
        .call("GET", "/v1/accounts/acct_p007/risk", Some(&token), None)
        .await;
    let r = app
        .call(
            "POST",
            "/v1/risk/evaluate",
            Some(&token),
            Some(json!({ "account": twin_of_7() })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["saved"], false);
    assert_eq!(
        r.body["risk"]["duplicates"][0]["id"], "acct_p007",
        "{}",
        r.body
    );
    // Nothing changed: the record is not stored and its partner does not see it.
    let g = app
        .call("GET", "/v1/accounts/acct_twin/risk", Some(&token), None)
        .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    let after = app
        .call("GET", "/v1/accounts/acct_p007/risk", Some(&token), None)
        .await;
    assert_eq!(before.body, after.body);
    assert!(after.body["duplicates"].as_array().unwrap().is_empty());
}
