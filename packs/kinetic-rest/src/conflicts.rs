//! Layer conflicts reported by `Install`, in both forms the server uses:
//!
//! - `Layer with identifier <App>~<Layer>~<Type> already exists in another company`
//! - `Cannot override all companies customization for application layer <Layer> <App> as the layer already exists in another company.`
//!   (the type is then `KNTCCustLayer`)

use crate::wit::{ConflictForm, LayerConflict, LayerRef};

/// The type code the second form implies.
pub const DEFAULT_TYPE: &str = "KNTCCustLayer";

/// Every conflict in `messages`, in order, without duplicates.
pub fn parse(messages: &[String]) -> Vec<LayerConflict> {
    let mut out: Vec<LayerConflict> = Vec::new();
    for message in messages {
        for c in parse_one(message) {
            let dup = out.iter().any(|o| {
                o.layer.app_id == c.layer.app_id
                    && o.layer.layer_name == c.layer.layer_name
                    && o.layer.type_code == c.layer.type_code
            });
            if !dup {
                out.push(c);
            }
        }
    }
    out
}

fn layer(app: &str, name: &str, type_code: &str) -> LayerRef {
    LayerRef {
        app_id: app.to_string(),
        layer_name: name.to_string(),
        type_code: type_code.to_string(),
        company: None,
        device_type: None,
        cgc_code: None,
    }
}

fn parse_one(message: &str) -> Vec<LayerConflict> {
    const ID: &str = "layer with identifier ";
    const ALL: &str = "for application layer ";
    const TAIL: &str = " as the layer already exists";
    let lower = message.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(ID) {
        let start = from + i + ID.len();
        let ident: String = message[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let parts: Vec<&str> = ident.trim_end_matches(['.', ',', ';']).split('~').collect();
        if let [app, name, type_code] = parts[..]
            && !app.is_empty()
            && !name.is_empty()
        {
            let type_code = if type_code.is_empty() {
                DEFAULT_TYPE
            } else {
                type_code
            };
            out.push(LayerConflict {
                layer: layer(app, name, type_code),
                form: ConflictForm::Identifier,
                message: message.to_string(),
            });
        }
        from = start;
    }
    let mut from = 0;
    while let Some(i) = lower[from..].find(ALL) {
        let start = from + i + ALL.len();
        let Some(end) = lower[start..].find(TAIL) else {
            break;
        };
        let words: Vec<&str> = message[start..start + end].split_whitespace().collect();
        if let Some((app, name)) = words.split_last()
            && !name.is_empty()
        {
            out.push(LayerConflict {
                layer: layer(app, &name.join(" "), DEFAULT_TYPE),
                form: ConflictForm::AllCompanies,
                message: message.to_string(),
            });
        }
        from = start + end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let msgs = vec![
            "Installing...".to_string(),
            "Layer with identifier Erp.UI.PartEntry~PartCustom~KNTCCustLayer already exists in another company".to_string(),
            "Cannot override all companies customization for application layer OrderLayer Erp.UI.SalesOrderEntry as the layer already exists in another company.".to_string(),
            "layer with identifier Erp.UI.PartEntry~PartCustom~KNTCCustLayer already exists in another company".to_string(),
        ];
        let c = parse(&msgs);
        assert_eq!(c.len(), 2, "deduplicated");
        assert_eq!(c[0].layer.app_id, "Erp.UI.PartEntry");
        assert_eq!(c[0].layer.layer_name, "PartCustom");
        assert!(matches!(c[0].form, ConflictForm::Identifier));
        assert_eq!(c[1].layer.app_id, "Erp.UI.SalesOrderEntry");
        assert_eq!(c[1].layer.layer_name, "OrderLayer");
        assert_eq!(c[1].layer.type_code, DEFAULT_TYPE);
        assert!(matches!(c[1].form, ConflictForm::AllCompanies));
        assert!(parse(&["nothing to see".to_string()]).is_empty());
    }
}
