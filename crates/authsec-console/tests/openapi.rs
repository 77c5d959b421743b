//! The OpenAPI document matches the router — every served route is documented and every
//! documented operation is served — and the shared wire types: their schemas are exactly
//! `authsec_proto::wire::openapi_schemas()`.

use std::collections::BTreeSet;

use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(authsec_console::OPENAPI_JSON).expect("the OpenAPI document is JSON")
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

fn served() -> BTreeSet<(String, String)> {
    authsec_console::route_table()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_owned(), p.to_owned()))
        .collect()
}

#[test]
fn every_route_is_documented() {
    let missing: Vec<_> = served().difference(&documented()).cloned().collect();
    assert!(
        missing.is_empty(),
        "served but not in openapi.json: {missing:?}"
    );
}

#[test]
fn every_documented_operation_is_served() {
    let extra: Vec<_> = documented().difference(&served()).cloned().collect();
    assert!(
        extra.is_empty(),
        "in openapi.json but not served: {extra:?}"
    );
}

#[test]
fn the_document_is_openapi_3_with_declared_path_parameters_and_responses() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string());
    for (path, item) in doc["paths"].as_object().unwrap() {
        let params: BTreeSet<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            assert!(
                op["operationId"].is_string(),
                "{method} {path}: operationId"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}: responses"
            );
            let declared: BTreeSet<&str> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(op["parameters"].as_array().into_iter().flatten())
                .filter(|p| p["in"] == "path" || p.get("$ref").is_some())
                .filter_map(|p| {
                    p["name"].as_str().or_else(|| {
                        let r = p["$ref"].as_str()?;
                        doc["components"]["parameters"][r.rsplit('/').next()?]["name"].as_str()
                    })
                })
                .collect();
            assert_eq!(declared, params, "{method} {path}: path parameters");
        }
    }
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if method != "parameters" {
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(seen.insert(id.clone()), "duplicate operationId {id}");
            }
        }
    }
}

#[test]
fn the_wire_type_schemas_are_the_shared_crates() {
    let doc = document();
    for (name, expected) in authsec_proto::wire::openapi_schemas() {
        let actual = &doc["components"]["schemas"][&name];
        assert_eq!(
            actual,
            &expected,
            "components.schemas.{name} in src/openapi.json differs from \
             authsec_proto::wire::openapi_schemas(); it must read:\n{}",
            serde_json::to_string_pretty(&expected).unwrap()
        );
    }
}
