//! The target as a whole: describe, the inventory observation compares,
//! and UD schema diff and apply.

use super::solutions::is_digest;
use super::{PROD, World, mutating};
use crate::conformance::{Cases, Fail, Verdict, ensure};
use crate::runtime::slots::kinetic::{
    InventoryItem, ItemKind, SchemaDiff, SpecFormat, TableSpec, inventory_map,
};

/// `Customer_UD` as declared: in the seeded prod company `TrackCode_c`
/// has another description, `TrackSince_c` and `Region_c` are missing and
/// `LegacyRef_c` is extra. `SysRevID` and `RowMod` are never compared.
pub const SPEC: &str = r#"<?xml version="1.0" standalone="yes"?>
<ZDataTableDataSet xmlns="http://www.epicor.com/Ice/300/BO/ZDataTable/ZDataTable">
  <ZDataTable><SystemCode>Erp</SystemCode><DataTableID>Customer_UD</DataTableID><SysRevID>1</SysRevID></ZDataTable>
  <ZDataField><SystemCode>Erp</SystemCode><DataTableID>Customer_UD</DataTableID><FieldName>TrackCode_c</FieldName>
    <DataType>nvarchar</DataType><Description>Tracking code (declared)</Description><SysRevID>99</SysRevID><RowMod></RowMod></ZDataField>
  <ZDataField><SystemCode>Erp</SystemCode><DataTableID>Customer_UD</DataTableID><FieldName>TrackSince_c</FieldName><DataType>date</DataType></ZDataField>
  <ZDataField><SystemCode>Erp</SystemCode><DataTableID>Customer_UD</DataTableID><FieldName>Region_c</FieldName>
    <DataType>nvarchar</DataType><Description>Sales region</Description><FieldFormat>x(20)</FieldFormat></ZDataField>
</ZDataTableDataSet>"#;

fn spec() -> TableSpec {
    TableSpec {
        format: SpecFormat::ZdatatableXml,
        text: SPEC.into(),
    }
}

/// The `describe` case.
pub(super) fn describe(w: &World<'_, '_>, c: &mut Cases) {
    c.check(
        "describe",
        "describe names the server and company the pack is configured for",
        || {
            let mut i = w.instance(PROD)?;
            let t = i.kinetic()?.describe()?;
            let base = w.double.handle().base_url();
            ensure(t.company.eq_ignore_ascii_case(PROD), || {
                format!(
                    "describe returned company {:?}, configured {PROD}",
                    t.company
                )
            })?;
            ensure(t.base_url.trim_end_matches('/') == base, || {
                format!(
                    "describe returned base-url {:?}, configured {base}",
                    t.base_url
                )
            })?;
            Ok(format!("{} company {}", t.base_url, t.company))
        },
    );
}

/// The inventory and schema cases.
pub(super) fn run(w: &World<'_, '_>, c: &mut Cases) {
    c.check(
        "inventory-stable",
        "inventory is sorted by kind then id, changes nothing, and the same target gives the same digests twice",
        || inventory_stable(w),
    );
    c.check(
        "inventory-sees-edits",
        "a change made on the target (a UI layer edited) changes that item's digest, and only its",
        || inventory_edit(w),
    );
    let mut diff = None;
    c.check(
        "schema-diff",
        "diff-schema reports the declared fields the target lacks (missing), the target's own (extra) and those that differ (drifted), sorted, changing nothing",
        || schema_diff(w, &mut diff),
    );
    match diff {
        Some(d) => {
            c.check(
                "schema-apply",
                "apply-schema creates the missing and updates the drifted fields, leaves the extra ones, and reports the sync state",
                || schema_apply(w, &d),
            );
        }
        None => c.skip("schema-apply", "needs a diff", "schema-diff failed"),
    }
}

fn inventory(w: &World<'_, '_>) -> Result<(Vec<InventoryItem>, Vec<String>), Fail> {
    let mut i = w.instance(PROD)?;
    let (items, calls) = w
        .double
        .watched(|| i.kinetic().and_then(|mut k| k.inventory(&[])));
    Ok((items?, mutating(&calls)))
}

/// The item keys whose digest differs between two inventories (or that
/// only one has), sorted.
fn differing(before: &[InventoryItem], after: &[InventoryItem]) -> Vec<String> {
    let a = inventory_map(before);
    let b = inventory_map(after);
    let mut out: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn inventory_stable(w: &World<'_, '_>) -> Verdict {
    let (first, changed) = inventory(w)?;
    ensure(changed.is_empty(), || {
        format!("inventory asked the server to change: {changed:?}")
    })?;
    let keys: Vec<(ItemKind, &str)> = first.iter().map(|i| (i.kind, i.id.as_str())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    ensure(keys == sorted, || {
        "items are not sorted by kind then id".to_string()
    })?;
    if let Some(bad) = first.iter().find(|i| !is_digest(&i.digest)) {
        return Err(Fail(format!("{} has digest {:?}", bad.key(), bad.digest)));
    }
    for kind in [ItemKind::Layer, ItemKind::InstalledSolution] {
        ensure(first.iter().any(|i| i.kind == kind), || {
            format!("no {} item, though the target has some", kind.as_str())
        })?;
    }
    let (second, _) = inventory(w)?;
    let differ = differing(&first, &second);
    ensure(differ.is_empty(), || {
        format!("two inventories of an unchanged target differ in {differ:?}")
    })?;
    Ok(format!("{} items, the same digests twice", first.len()))
}

fn inventory_edit(w: &World<'_, '_>) -> Verdict {
    let (before, _) = inventory(w)?;
    w.double
        .handle()
        .edit_layer(PROD, "Erp.UI.SalesOrderEntry", "OrderFixes", None)
        .map_err(|e| Fail(format!("cannot edit the layer in the double: {e}")))?;
    let (after, _) = inventory(w)?;
    let changed = differing(&before, &after);
    let edited = |k: &String| k.starts_with("kinetic/layer/Erp.UI.SalesOrderEntry~OrderFixes~");
    ensure(!changed.is_empty() && changed.iter().all(edited), || {
        format!(
            "after editing layer Erp.UI.SalesOrderEntry~OrderFixes, the items that changed are {changed:?}"
        )
    })?;
    Ok(format!("changed: {changed:?}"))
}

/// `out` is set when the call succeeded, so `schema-apply` runs even when
/// this case failed.
fn schema_diff(w: &World<'_, '_>, out: &mut Option<SchemaDiff>) -> Verdict {
    let mut i = w.instance(PROD)?;
    let (d, calls) = w
        .double
        .watched(|| i.kinetic().and_then(|mut k| k.diff_schema(&spec())));
    let d = out.insert(d?);
    let changed = mutating(&calls);
    ensure(changed.is_empty(), || {
        format!("diff-schema asked the server to change: {changed:?}")
    })?;
    let drifted: Vec<&str> = d.drifted.iter().map(|f| f.field.as_str()).collect();
    ensure(
        d.missing == ["Region_c", "TrackSince_c"]
            && d.extra == ["LegacyRef_c"]
            && drifted == ["TrackCode_c"],
        || {
            format!(
                "missing {:?}, extra {:?}, drifted {drifted:?}; the target lacks [Region_c, TrackSince_c], has [LegacyRef_c] of its own and a different TrackCode_c",
                d.missing, d.extra
            )
        },
    )?;
    Ok(format!(
        "missing {:?}, extra {:?}, drifted {drifted:?}",
        d.missing, d.extra
    ))
}

fn schema_apply(w: &World<'_, '_>, d: &SchemaDiff) -> Verdict {
    let mut i = w.instance(PROD)?;
    let r = i.kinetic()?.apply_schema(&spec(), d)?;
    ensure(
        r.created == ["Region_c", "TrackSince_c"] && r.updated == ["TrackCode_c"],
        || format!("apply created {:?} and updated {:?}", r.created, r.updated),
    )?;
    ensure(!r.sync.data_model_synced, || {
        "fields were added, yet the report says the data model is in sync".into()
    })?;
    let mut i = w.instance(PROD)?;
    let after = i.kinetic()?.diff_schema(&spec())?;
    ensure(after.missing.is_empty() && after.drifted.is_empty(), || {
        format!(
            "after apply: missing {:?}, drifted {} field(s)",
            after.missing,
            after.drifted.len()
        )
    })?;
    // Read on the server itself, so a diff that hides extra fields does
    // not fail this case too.
    let fields: Vec<String> = w
        .double
        .handle()
        .ud_table(PROD, "Customer_UD")
        .map(|(f, _)| {
            f.iter()
                .filter_map(|r| r.get("FieldName").and_then(|v| v.as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ensure(fields.iter().any(|f| f == "LegacyRef_c"), || {
        format!("apply removed the extra field LegacyRef_c: the table has {fields:?}")
    })?;
    Ok(format!(
        "created {:?}, updated {:?}; data model in sync: {}",
        r.created, r.updated, r.sync.data_model_synced
    ))
}
