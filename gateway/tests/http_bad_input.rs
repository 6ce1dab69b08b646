//! Bad input over HTTP gets a 4xx with a code, nothing is journaled as an order, and the server keeps serving.
mod common;
use common::*;

#[test]
fn bad_input_is_refused_with_a_code_and_nothing_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bulwark.toml");
    std::fs::write(&cfg, test_config(&dir.path().join("data"), "sync")).unwrap();
    let gw = Gateway::start(&cfg);
    let a = agent();
    let orders = format!("{}/api/v1/orders", gw.base);
    let good = r#"{"account":"DEMO-1","symbol":"AAPL","side":"buy","qty":"5","type":"limit","limit_price":"10.00"}"#;
    let huge_body = format!(
        r#"{{"account":"DEMO-1","symbol":"AAPL","side":"buy","qty":1,"client_order_id":"{}"}}"#,
        "x".repeat(20_000)
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "malformed JSON",
            "{\"account\":".into(),
            400,
            "MALFORMED_JSON",
        ),
        (
            "not JSON at all",
            "buy 10 AAPL".into(),
            400,
            "MALFORMED_JSON",
        ),
        ("empty body", "".into(), 400, "MALFORMED_JSON"),
        (
            "unknown field",
            good.replace("\"qty\"", "\"colour\":\"red\",\"qty\""),
            400,
            "UNKNOWN_FIELD",
        ),
        (
            "missing field",
            r#"{"account":"DEMO-1","symbol":"AAPL","side":"buy"}"#.into(),
            400,
            "MISSING_FIELD",
        ),
        (
            "zero quantity",
            good.replace("\"5\"", "\"0\""),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "negative quantity",
            good.replace("\"5\"", "-5"),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "fractional beyond the symbol's precision",
            good.replace("\"5\"", "\"1.5\""),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "fractional beyond fixed-point precision",
            good.replace("\"5\"", "0.000000001"),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "NaN literal",
            good.replace("\"5\"", "NaN"),
            400,
            "MALFORMED_JSON",
        ),
        (
            "NaN string",
            good.replace("\"5\"", "\"NaN\""),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "Infinity string",
            good.replace("\"5\"", "\"Infinity\""),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "huge number",
            good.replace("\"5\"", "1e400"),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "huge integer",
            good.replace("\"5\"", "123456789012345678901234567890"),
            422,
            "INCORRECT_QUANTITY",
        ),
        (
            "quantity as a boolean",
            good.replace("\"5\"", "true"),
            400,
            "INVALID_FIELD",
        ),
        (
            "negative price",
            good.replace("\"10.00\"", "\"-1\""),
            422,
            "INCORRECT_PRICE",
        ),
        (
            "sub-cent price",
            good.replace("\"10.00\"", "\"10.001\""),
            422,
            "INCORRECT_PRICE",
        ),
        (
            "limit order without price",
            r#"{"account":"DEMO-1","symbol":"AAPL","side":"buy","qty":1,"type":"limit"}"#.into(),
            422,
            "INCORRECT_PRICE",
        ),
        (
            "market order with price",
            good.replace("\"limit\"", "\"market\""),
            422,
            "INCORRECT_PRICE",
        ),
        (
            "bad side",
            good.replace("\"buy\"", "\"hold\""),
            422,
            "INVALID_FIELD",
        ),
        (
            "bad tif",
            good.replace("\"type\"", "\"tif\":\"forever\",\"type\""),
            422,
            "INVALID_FIELD",
        ),
        (
            "bad client order id",
            good.replace("\"type\"", "\"client_order_id\":\"has space\",\"type\""),
            422,
            "INVALID_FIELD",
        ),
        (
            "unknown account",
            good.replace("DEMO-1", "NOBODY"),
            404,
            "UNKNOWN_ACCOUNT",
        ),
        (
            "unknown symbol",
            good.replace("AAPL", "ZZZZ"),
            422,
            "UNKNOWN_SYMBOL",
        ),
        ("oversize body", huge_body, 413, "BODY_TOO_LARGE"),
    ];
    let journal_dir = dir.path().join("data/journal");
    for (what, body, status, code) in &cases {
        let (got, json) = post(&a, &orders, body);
        assert_eq!(got, *status, "{what}: {json}");
        assert_eq!(json["error"]["code"], *code, "{what}: {json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {json}"
        );
    }
    assert_eq!(
        journal_count(&journal_dir, "new_order"),
        0,
        "no bad input reached the journal"
    );

    // Other endpoints validate too.
    let (s, j) = get(&a, &format!("{}/api/v1/orders", gw.base));
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (400, Some("MISSING_PARAMETER"))
    );
    let (s, j) = get(&a, &format!("{}/api/v1/positions?account=NOBODY", gw.base));
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (404, Some("UNKNOWN_ACCOUNT"))
    );
    let (s, j) = get(&a, &format!("{}/api/v1/orders/abc", gw.base));
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (400, Some("INVALID_PARAMETER"))
    );
    let (s, j) = post(
        &a,
        &format!("{}/api/v1/prices", gw.base),
        r#"{"symbol":"AAPL","price":"-3"}"#,
    );
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (422, Some("INCORRECT_PRICE"))
    );
    let (s, j) = send(&a, "DELETE", &format!("{orders}/999"), None).unwrap();
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (404, Some("UNKNOWN_ORDER"))
    );
    let (s, j) = get(&a, &format!("{}/api/v1/headroom", gw.base));
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (400, Some("MISSING_PARAMETER"))
    );
    let (s, j) = get(&a, &format!("{}/api/v1/headroom?account=NOBODY", gw.base));
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (404, Some("UNKNOWN_ACCOUNT"))
    );
    let (s, j) = get(
        &a,
        &format!("{}/api/v1/headroom?account=DEMO-1&colour=red", gw.base),
    );
    assert_eq!(
        (s, j["error"]["code"].as_str()),
        (400, Some("INVALID_PARAMETER"))
    );
    let (s, _) = get(&a, &format!("{}/nope", gw.base));
    assert_eq!(s, 404);
    assert_eq!(journal_count(&journal_dir, "price"), 0);

    // And the server keeps serving: a good order is accepted afterwards.
    let (s, j) = post(&a, &orders, good);
    assert_eq!(s, 201, "{j}");
    assert_eq!(j["status"], "pending_new");
    assert_eq!(journal_count(&journal_dir, "new_order"), 1);
    let (s, _) = get(&a, &format!("{}/readyz", gw.base));
    assert_eq!(s, 200);
}
