//! Just enough XML for a `ZDataTableDataSet` export: elements, attributes,
//! text, entities, comments, CDATA and processing instructions. Names keep
//! their local part; the default namespace is recorded per element.

/// An element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (after any `prefix:`).
    pub name: String,
    /// The `xmlns` in scope.
    pub namespace: String,
    /// Child elements, in order.
    pub children: Vec<Element>,
    /// Text directly inside, entities decoded, trimmed.
    pub text: String,
}

impl Element {
    /// Children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses a document into its root element; the error names the line.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        src: text,
    };
    p.skip_misc()?;
    let root = p.element("")?;
    p.skip_misc()?;
    if p.i < p.s.len() {
        return Err(p.err("content after the root element"));
    }
    Ok(root)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        let line = self.src[..self.i.min(self.src.len())].matches('\n').count() + 1;
        format!("line {line}: {what}")
    }

    fn starts(&self, pat: &str) -> bool {
        self.s[self.i..].starts_with(pat.as_bytes())
    }

    fn skip_to(&mut self, pat: &str) -> Result<(), String> {
        let rest = &self.src[self.i..];
        let at = rest
            .find(pat)
            .ok_or_else(|| self.err(&format!("missing {pat:?}")))?;
        self.i += at + pat.len();
        Ok(())
    }

    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// Whitespace, comments, `<?...?>` and `<!DOCTYPE>` between elements.
    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.starts("\u{feff}") {
                self.i += 3;
            } else if self.starts("<?") {
                self.skip_to("?>")?;
            } else if self.starts("<!--") {
                self.skip_to("-->")?;
            } else if self.starts("<!DOCTYPE") {
                self.skip_to(">")?;
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len()
            && !self.s[self.i].is_ascii_whitespace()
            && !b"/>=".contains(&self.s[self.i])
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.err("expected a name"));
        }
        Ok(self.src[start..self.i].to_string())
    }

    fn element(&mut self, ns: &str) -> Result<Element, String> {
        if !self.starts("<") {
            return Err(self.err("expected an element"));
        }
        self.i += 1;
        let qname = self.name()?;
        let mut el = Element {
            name: qname.rsplit(':').next().unwrap_or(&qname).to_string(),
            namespace: ns.to_string(),
            ..Element::default()
        };
        loop {
            self.skip_ws();
            if self.starts("/>") {
                self.i += 2;
                return Ok(el);
            }
            if self.starts(">") {
                self.i += 1;
                break;
            }
            let attr = self.name()?;
            self.skip_ws();
            if !self.starts("=") {
                return Err(self.err(&format!("attribute {attr:?} has no value")));
            }
            self.i += 1;
            self.skip_ws();
            let quote = *self
                .s
                .get(self.i)
                .ok_or_else(|| self.err("unexpected end"))?;
            if quote != b'"' && quote != b'\'' {
                return Err(self.err("expected a quoted attribute value"));
            }
            self.i += 1;
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != quote {
                self.i += 1;
            }
            let value = decode(&self.src[start..self.i]);
            self.i += 1;
            if attr == "xmlns" {
                el.namespace = value;
            }
        }
        let mut text = String::new();
        loop {
            if self.i >= self.s.len() {
                return Err(self.err(&format!("element <{qname}> is not closed")));
            }
            if self.starts("</") {
                self.i += 2;
                let close = self.name()?;
                if close != qname {
                    return Err(self.err(&format!("</{close}> closes <{qname}>")));
                }
                self.skip_ws();
                self.skip_to(">")?;
                el.text = text.trim().to_string();
                return Ok(el);
            } else if self.starts("<!--") {
                self.skip_to("-->")?;
            } else if self.starts("<![CDATA[") {
                let start = self.i + 9;
                self.skip_to("]]>")?;
                text.push_str(&self.src[start..self.i - 3]);
            } else if self.starts("<?") {
                self.skip_to("?>")?;
            } else if self.starts("<") {
                let ns = el.namespace.clone();
                el.children.push(self.element(&ns)?);
            } else {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != b'<' {
                    self.i += 1;
                }
                text.push_str(&decode(&self.src[start..self.i]));
            }
        }
    }
}

fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..end];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => {
                out.push('&');
                out.push_str(entity);
                out.push(';');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_export() {
        let doc = r#"<?xml version="1.0" standalone="yes"?>
<!-- exported -->
<ZDataTableDataSet xmlns="http://www.epicor.com/Ice/300/BO/ZDataTable/ZDataTable">
  <ZDataTable><SystemCode>Erp</SystemCode><DataTableID>Part_UD</DataTableID></ZDataTable>
  <ZDataField>
    <FieldName>Color_c</FieldName><Description>Colour &amp; shade</Description><Empty/>
    <Note><![CDATA[a <b>]]></Note>
  </ZDataField>
</ZDataTableDataSet>"#;
        let root = parse(doc).expect("xml");
        assert_eq!(root.name, "ZDataTableDataSet");
        assert_eq!(
            root.namespace,
            "http://www.epicor.com/Ice/300/BO/ZDataTable/ZDataTable"
        );
        let f = root.all("ZDataField").next().expect("field");
        assert_eq!(f.namespace, root.namespace);
        assert_eq!(
            f.all("Description").next().expect("d").text,
            "Colour & shade"
        );
        assert_eq!(f.all("Note").next().expect("n").text, "a <b>");
        let e = parse("<a>\n<b></a>").expect_err("mismatch");
        assert!(e.starts_with("line 2"), "{e}");
    }
}
