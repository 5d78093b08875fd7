//! `meta.k8s.io/v1` `Table` answers, for clients that ask for them
//! (`kubectl get` does, with `Accept: application/json;as=Table;...`): the
//! columns the real server prints for each type served.

use serde_json::{Value, json};

use crate::clock;
use crate::resources::ResourceType;
use crate::rollout;

/// Whether the `Accept` header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept.contains("as=Table")
}

fn column(name: &str, kind: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": kind, "format": format, "description": "", "priority": priority})
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn count(v: &Value) -> usize {
    v.as_object().map(|m| m.len()).unwrap_or(0)
}

/// Columns (after Name) and the cells of one object (after its name).
fn columns(t: &ResourceType) -> Vec<Value> {
    let c = |n: &str| column(n, "string", 0);
    match t.plural {
        "deployments" => vec![
            c("Ready"),
            c("Up-to-date"),
            c("Available"),
            c("Age"),
            column("Containers", "string", 1),
            column("Images", "string", 1),
            column("Selector", "string", 1),
        ],
        "pods" => vec![
            c("Ready"),
            c("Status"),
            column("Restarts", "integer", 0),
            c("Age"),
        ],
        "services" => vec![
            c("Type"),
            c("Cluster-IP"),
            c("External-IP"),
            c("Port(s)"),
            c("Age"),
        ],
        "configmaps" => vec![column("Data", "integer", 0), c("Age")],
        "secrets" => vec![c("Type"), column("Data", "integer", 0), c("Age")],
        "namespaces" => vec![c("Status"), c("Age")],
        "httproutes" => vec![c("Hostnames"), c("Age")],
        "gateways" => vec![c("Class"), c("Address"), c("Programmed"), c("Age")],
        "gatewayclasses" => vec![c("Controller"), c("Accepted"), c("Age")],
        "events" => vec![
            c("Last Seen"),
            c("Type"),
            c("Reason"),
            c("Object"),
            c("Message"),
        ],
        _ => vec![c("Age")],
    }
}

fn cells(t: &ResourceType, o: &Value) -> Vec<Value> {
    let age = json!(clock::age(
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
    ));
    match t.plural {
        "deployments" => deployment_cells(o, age),
        "pods" => pod_cells(o, age),
        "services" => {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| format!("{}/{}", text(&p["port"]), text(&p["protocol"])))
                .collect();
            vec![
                json!(text(&o["spec"]["type"])),
                json!(text(&o["spec"]["clusterIP"])),
                json!("<none>"),
                json!(ports.join(",")),
                age,
            ]
        }
        "configmaps" => vec![json!(count(&o["data"]) + count(&o["binaryData"])), age],
        "secrets" => vec![json!(text(&o["type"])), json!(count(&o["data"])), age],
        "namespaces" => vec![json!(text(&o["status"]["phase"])), age],
        "gateways" => {
            let programmed = o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Programmed");
            let address = text(&o["status"]["addresses"][0]["value"]);
            vec![
                json!(text(&o["spec"]["gatewayClassName"])),
                json!(address),
                json!(
                    programmed
                        .map(|c| text(&c["status"]))
                        .unwrap_or_else(|| "Unknown".into())
                ),
                age,
            ]
        }
        "gatewayclasses" => vec![
            json!(text(&o["spec"]["controllerName"])),
            json!("True"),
            age,
        ],
        "httproutes" => {
            let hosts: Vec<String> = o["spec"]["hostnames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(text)
                .collect();
            vec![json!(format!("[{}]", hosts.join(","))), age]
        }
        "events" => {
            let obj = format!(
                "{}/{}",
                text(&o["involvedObject"]["kind"]).to_lowercase(),
                text(&o["involvedObject"]["name"])
            );
            let seen = json!(clock::age(o["lastTimestamp"].as_str().unwrap_or_default()));
            vec![
                seen,
                json!(text(&o["type"])),
                json!(text(&o["reason"])),
                json!(obj),
                json!(text(&o["message"])),
            ]
        }
        _ => vec![age],
    }
}

fn deployment_cells(o: &Value, age: Value) -> Vec<Value> {
    let num = |v: &Value| v.as_u64().unwrap_or(0);
    let s = &o["status"];
    let cs = o["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = cs.iter().map(|c| text(&c["name"])).collect();
    let images: Vec<String> = cs.iter().map(|c| text(&c["image"])).collect();
    let sel = crate::write::scale_of(o)["status"]["selector"].clone();
    vec![
        json!(format!(
            "{}/{}",
            num(&s["readyReplicas"]),
            rollout::replicas(o)
        )),
        json!(num(&s["updatedReplicas"])),
        json!(num(&s["availableReplicas"])),
        age,
        json!(names.join(",")),
        json!(images.join(",")),
        sel,
    ]
}

fn pod_cells(o: &Value, age: Value) -> Vec<Value> {
    let st = o["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = st.iter().filter(|c| c["ready"] == true).count();
    let waiting = st
        .iter()
        .find_map(|c| c["state"]["waiting"]["reason"].as_str().map(str::to_string));
    let restarts: u64 = st
        .iter()
        .map(|c| c["restartCount"].as_u64().unwrap_or(0))
        .sum();
    let status = waiting.unwrap_or_else(|| text(&o["status"]["phase"]));
    vec![
        json!(format!("{ready}/{}", st.len())),
        json!(status),
        json!(restarts),
        age,
    ]
}

/// A Table of objects; each row carries the object's metadata.
pub fn of(t: &ResourceType, items: &[Value], rv: &str) -> Value {
    let mut defs = vec![column("Name", "string", 0)];
    defs.extend(columns(t));
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut c = vec![o["metadata"]["name"].clone()];
            c.extend(cells(t, o));
            json!({
                "cells": c,
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]},
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_cell_per_column() {
        for t in crate::resources::TYPES {
            let plural = t.plural;

            let o = json!({"metadata": {"name": "x", "creationTimestamp": clock::now()}});
            let table = of(t, &[o], "1");
            let defs = table["columnDefinitions"].as_array().map(Vec::len);
            let cells = table["rows"][0]["cells"].as_array().map(Vec::len);
            assert_eq!(defs, cells, "{plural}");
        }
    }
}
