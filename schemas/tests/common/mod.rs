//! Shared by the integration tests: the schema files compiled into
//! validators (offline: the files reference each other by `$id`, resolved
//! through a registry, never fetched), and the example files.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn schema_dir() -> PathBuf {
    crate_dir().join("json")
}

pub fn examples_dir() -> PathBuf {
    crate_dir().join("examples")
}

pub fn invalid_dir() -> PathBuf {
    examples_dir().join("invalid")
}

/// Every `*.schema.json` file by file name, parsed.
pub fn schema_documents() -> BTreeMap<String, Value> {
    let mut docs = BTreeMap::new();
    for entry in std::fs::read_dir(schema_dir()).expect("json/ exists") {
        let path = entry.expect("readable dir entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        if name.ends_with(".schema.json") {
            let text = std::fs::read_to_string(&path).expect("readable schema");
            let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            docs.insert(name, doc);
        }
    }
    docs
}

/// Compiled validators, one per schema file, with format assertion on (so
/// `date-time` is checked as the decoder checks it).
pub struct Schemas {
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl Schemas {
    pub fn load() -> Schemas {
        let docs = schema_documents();
        let resources: Vec<(String, Value)> = docs
            .values()
            .map(|doc| {
                (
                    doc["$id"].as_str().expect("$id set").to_owned(),
                    doc.clone(),
                )
            })
            .collect();
        let registry = jsonschema::Registry::new()
            .extend(resources)
            .expect("schema ids are URIs")
            .prepare()
            .expect("registry resolves");
        let validators = docs
            .iter()
            .map(|(name, doc)| {
                let validator = jsonschema::options()
                    .with_registry(&registry)
                    .should_validate_formats(true)
                    .build(doc)
                    .unwrap_or_else(|e| panic!("{name} compiles: {e}"));
                (name.clone(), validator)
            })
            .collect();
        Schemas { validators }
    }

    pub fn validator(&self, file: &str) -> &jsonschema::Validator {
        self.validators
            .get(file)
            .unwrap_or_else(|| panic!("no schema {file}"))
    }

    pub fn is_valid(&self, file: &str, instance: &Value) -> bool {
        self.validator(file).is_valid(instance)
    }

    /// The validation errors as text, for assertion messages.
    pub fn errors(&self, file: &str, instance: &Value) -> Vec<String> {
        self.validator(file)
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
