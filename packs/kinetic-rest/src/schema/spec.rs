//! Declared UD tables: a `ZDataTableDataSet` XML export, or a TOML/JSON spec.
//!
//! ```toml
//! system-code = "Erp"
//! table = "Part_UD"
//! [[field]]
//! name = "Color_c"
//! data-type = "nvarchar"
//! description = "Colour"
//! like-data-field = { system-code = "Erp", table-id = "Part", name = "PartNum" }
//! ```
//!
//! Property keys match case-insensitively and ignore `-`, `_` and `.`, so
//! `DataType`, `data-type` and `data_type` are the same key. Only the
//! compared properties are kept; an unknown key is an error naming it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::xml;
use crate::json::value_text;
use crate::rest::KineticError;
use crate::wit::{SpecFormat, TableSpec};

/// The namespace of a `ZDataTableDataSet` export.
pub const NAMESPACE: &str = "http://www.epicor.com/Ice/300/BO/ZDataTable/ZDataTable";

/// The compared properties, as reported, and the `ZDataField` column of each.
pub const PROPERTIES: &[(&str, &str)] = &[
    ("DataType", "DataType"),
    ("Required", "Required"),
    ("ReadOnly", "ReadOnly"),
    ("Description", "Description"),
    ("FieldFormat", "FieldFormat"),
    ("FieldScale", "FieldScale"),
    ("LikeDataField.SystemCode", "LikeDataFieldSystemCode"),
    ("LikeDataField.TableID", "LikeDataFieldTableID"),
    ("LikeDataField.Name", "LikeDataFieldName"),
    ("InitialValue", "InitialValue"),
    ("DefaultFormat", "DefaultFormat"),
    ("DefaultLabel", "DefaultLabel"),
    ("DBTableName", "DBTableName"),
];

/// Columns that identify a field or are bookkeeping: read, never compared.
const IGNORED: &[&str] = &[
    "systemcode",
    "datatableid",
    "fieldname",
    "name",
    "sysrevid",
    "sysrowid",
    "bitflag",
    "rowmod",
    "company",
];

/// A declared table: field name -> property -> value (only declared ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// `Erp`, `Ice`...
    pub system_code: String,
    /// `Part_UD`, `UD01`...
    pub table: String,
    /// Fields by name.
    pub fields: BTreeMap<String, BTreeMap<&'static str, String>>,
}

fn norm(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The reported name of a property key, if it is a compared one.
pub fn property(key: &str) -> Option<&'static str> {
    let k = norm(key);
    PROPERTIES
        .iter()
        .find(|(p, _)| norm(p) == k)
        .map(|(p, _)| *p)
}

/// A value in the form compared: booleans lowercase, text trimmed.
pub fn normal(v: &str) -> String {
    let t = v.trim();
    match t.to_ascii_lowercase().as_str() {
        "true" | "false" => t.to_ascii_lowercase(),
        _ => t.to_string(),
    }
}

/// Reads a spec.
pub fn parse(spec: &TableSpec) -> Result<Declared, KineticError> {
    let bad = |why: String| KineticError::Input(format!("the table spec cannot be read: {why}"));
    let declared = match spec.format {
        SpecFormat::ZdatatableXml => from_xml(&spec.text).map_err(bad)?,
        SpecFormat::Toml => {
            let v: toml::Value = toml::from_str(&spec.text).map_err(|e| bad(e.to_string()))?;
            let v = serde_json::to_value(v).map_err(|e| bad(e.to_string()))?;
            from_value(&v).map_err(bad)?
        }
        SpecFormat::Json => {
            let v: Value = serde_json::from_str(&spec.text).map_err(|e| bad(e.to_string()))?;
            from_value(&v).map_err(bad)?
        }
    };
    if declared.table.is_empty() || declared.system_code.is_empty() {
        return Err(bad(
            "it names no table and system code (`table`, `system-code`)".into(),
        ));
    }
    crate::rest::settings::check_segment("table", &declared.table)?;
    Ok(declared)
}

fn from_xml(text: &str) -> Result<Declared, String> {
    let root = xml::parse(text)?;
    if root.name != "ZDataTableDataSet" || root.namespace != NAMESPACE {
        return Err(format!(
            "the root is <{}> in namespace {:?}; expected <ZDataTableDataSet xmlns=\"{NAMESPACE}\">",
            root.name, root.namespace
        ));
    }
    let mut d = Declared::default();
    let get = |el: &xml::Element, name: &str| {
        el.all(name)
            .next()
            .map(|c| c.text.clone())
            .unwrap_or_default()
    };
    if let Some(t) = root.all("ZDataTable").next() {
        d.system_code = get(t, "SystemCode");
        d.table = get(t, "DataTableID");
    }
    for f in root.all("ZDataField") {
        let name = get(f, "FieldName");
        if name.is_empty() {
            return Err("a <ZDataField> has no <FieldName>".into());
        }
        if d.table.is_empty() {
            d.table = get(f, "DataTableID");
            d.system_code = get(f, "SystemCode");
        }
        let mut props = BTreeMap::new();
        for c in &f.children {
            if let Some(p) = property(&c.name) {
                props.insert(p, normal(&c.text));
            }
        }
        d.fields.insert(name, props);
    }
    Ok(d)
}

fn from_value(v: &Value) -> Result<Declared, String> {
    let top = v
        .as_object()
        .ok_or("expected a table of `system-code`, `table` and `field` entries")?;
    let mut d = Declared::default();
    let mut fields: &[Value] = &[];
    for (k, v) in top {
        match norm(k).as_str() {
            "systemcode" => d.system_code = value_text(Some(v)),
            "table" | "datatableid" => d.table = value_text(Some(v)),
            "field" | "fields" => {
                fields = v
                    .as_array()
                    .map(Vec::as_slice)
                    .ok_or("`field` must be a list of tables")?
            }
            _ => {
                return Err(format!(
                    "unknown key {k:?} (expected system-code, table, field)"
                ));
            }
        }
    }
    for (i, f) in fields.iter().enumerate() {
        let f = f
            .as_object()
            .ok_or(format!("field {} is not a table", i + 1))?;
        let name = f
            .iter()
            .find(|(k, _)| matches!(norm(k).as_str(), "name" | "fieldname"))
            .map(|(_, v)| value_text(Some(v)))
            .filter(|n| !n.is_empty())
            .ok_or(format!("field {} has no `name`", i + 1))?;
        let mut props = BTreeMap::new();
        collect(f, "", &name, &mut props)?;
        d.fields.insert(name, props);
    }
    Ok(d)
}

fn collect(
    m: &Map<String, Value>,
    prefix: &str,
    field: &str,
    out: &mut BTreeMap<&'static str, String>,
) -> Result<(), String> {
    for (k, v) in m {
        if prefix.is_empty() && IGNORED.contains(&norm(k).as_str()) {
            continue;
        }
        let key = format!("{prefix}{k}");
        if let Value::Object(inner) = v {
            collect(inner, &format!("{key}."), field, out)?;
            continue;
        }
        let p = property(&key).ok_or(format!(
            "field {field:?} has unknown property {key:?} (compared: {})",
            PROPERTIES
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
        out.insert(p, normal(&value_text(Some(v))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(format: SpecFormat, text: &str) -> Result<Declared, KineticError> {
        parse(&TableSpec {
            format,
            text: text.into(),
        })
    }

    #[test]
    fn three_formats_agree() {
        let xml = format!(
            r#"<ZDataTableDataSet xmlns="{NAMESPACE}"><ZDataTable><SystemCode>Erp</SystemCode><DataTableID>Part_UD</DataTableID></ZDataTable>
<ZDataField><SystemCode>Erp</SystemCode><DataTableID>Part_UD</DataTableID><FieldName>Color_c</FieldName><DataType>nvarchar</DataType><Required>False</Required><LikeDataFieldName>PartNum</LikeDataFieldName><SysRevID>77</SysRevID><RowMod></RowMod></ZDataField></ZDataTableDataSet>"#
        );
        let toml = "system-code = \"Erp\"\ntable = \"Part_UD\"\n[[field]]\nname = \"Color_c\"\ndata-type = \"nvarchar\"\nrequired = false\nlike-data-field = { name = \"PartNum\" }\n";
        let json = r#"{"system-code":"Erp","table":"Part_UD","field":[{"name":"Color_c","DataType":"nvarchar","Required":false,"LikeDataField":{"Name":"PartNum"}}]}"#;
        let a = spec(SpecFormat::ZdatatableXml, &xml).expect("xml");
        let b = spec(SpecFormat::Toml, toml).expect("toml");
        let c = spec(SpecFormat::Json, json).expect("json");
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.fields["Color_c"]["LikeDataField.Name"], "PartNum");
        assert!(!a.fields["Color_c"].contains_key("SysRevID"));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = spec(
            SpecFormat::ZdatatableXml,
            "<ZDataTableDataSet><ZDataField/></ZDataTableDataSet>",
        )
        .expect_err("ns");
        assert!(e.to_string().contains(NAMESPACE), "{e}");
        let e = spec(
            SpecFormat::Toml,
            "table = \"X\"\nsystem-code = \"Erp\"\n[[field]]\nname = \"A\"\ncolour = 1\n",
        )
        .expect_err("key");
        assert!(e.to_string().contains("\"colour\""), "{e}");
        let e = spec(SpecFormat::Toml, "table = \n").expect_err("syntax");
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
