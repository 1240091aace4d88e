//! The schema documents a server publishes over HTTP, rendered once; adapters only map a
//! request path to one of them.

use crate::problem::Problem;
use crate::registry::Registry;

use super::{AsyncApiInfo, render};

/// The file name the AsyncAPI document is served under.
pub const ASYNCAPI_DOCUMENT: &str = "asyncapi.json";

/// The file name the JSON Schema bundle is served under.
pub const JSON_SCHEMA_DOCUMENT: &str = "schema.json";

/// One rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    name: &'static str,
    body: String,
}

impl Document {
    /// The file name it is served under ([`ASYNCAPI_DOCUMENT`] or [`JSON_SCHEMA_DOCUMENT`]).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its media type: `application/json`, for both documents.
    pub fn media_type(&self) -> &'static str {
        "application/json"
    }

    /// The JSON text, byte-identical for the same registry and information.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// The AsyncAPI document and the JSON Schema bundle of one registry, rendered once, looked
/// up by the last segment of a request path.
///
/// An adapter mounts one route (e.g. `/schema/{document}`) and answers with
/// [`Documents::for_path`]: a [`Document`] as its [media type](Document::media_type), or the
/// Problem as `application/problem+json`.
///
/// ```
/// use beeflow_core::Registry;
/// use beeflow_core::schema::{AsyncApiInfo, Documents};
///
/// let registry = Registry::builder().build().unwrap();
/// let documents = Documents::new(&registry, &AsyncApiInfo::new("Demo", "1.0.0"));
/// let asyncapi = documents.for_path("/schema/asyncapi.json").unwrap();
/// assert!(asyncapi.body().contains("\"asyncapi\": \"3.0.0\""));
/// assert_eq!(documents.for_path("/schema/other.json").unwrap_err().status(), 404);
/// ```
#[derive(Debug, Clone)]
pub struct Documents {
    asyncapi: Document,
    json_schema: Document,
}

impl Documents {
    /// Renders both documents of `registry`.
    pub fn new(registry: &Registry, info: &AsyncApiInfo) -> Self {
        Self {
            asyncapi: Document {
                name: ASYNCAPI_DOCUMENT,
                body: render(&registry.asyncapi(info)),
            },
            json_schema: Document {
                name: JSON_SCHEMA_DOCUMENT,
                body: render(&registry.json_schema_bundle()),
            },
        }
    }

    /// The document named `name`.
    ///
    /// # Errors
    ///
    /// `unknown_schema_document` (404) for any other name.
    pub fn get(&self, name: &str) -> Result<&Document, Problem> {
        match name {
            ASYNCAPI_DOCUMENT => Ok(&self.asyncapi),
            JSON_SCHEMA_DOCUMENT => Ok(&self.json_schema),
            _ => Err(Problem::unknown_schema_document(
                name,
                &[ASYNCAPI_DOCUMENT, JSON_SCHEMA_DOCUMENT],
            )),
        }
    }

    /// The document named by the last segment of a request path (query string excluded).
    ///
    /// # Errors
    ///
    /// Like [`Documents::get`].
    pub fn for_path(&self, path: &str) -> Result<&Document, Problem> {
        let name = path.rsplit('/').next().unwrap_or_default();
        self.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_found_by_the_last_path_segment() {
        let registry = Registry::builder().build().unwrap();
        let documents = Documents::new(&registry, &AsyncApiInfo::new("t", "1"));
        assert_eq!(
            documents.for_path("/schema/schema.json").unwrap().name(),
            "schema.json"
        );
        assert_eq!(
            documents.for_path("asyncapi.json").unwrap().name(),
            "asyncapi.json"
        );
        let problem = documents.for_path("/schema/").unwrap_err();
        assert_eq!(problem.code(), "unknown_schema_document");
        assert!(problem.detail().contains("'asyncapi.json'"));
        let body = documents.get(JSON_SCHEMA_DOCUMENT).unwrap().body();
        assert!(body.ends_with("}\n"));
    }
}
