//! Routing profiles: which detected format goes to which subfolder, with which extension.
//!
//! A profile is a TOML file; `docs/routing-profiles.md` describes the format and
//! `default-profile.toml` beside this module is the built-in profile. Loading
//! checks everything up front and reports the file, line and column of the
//! first problem, so `practicebox config check` can point at it.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::detect::Format;
use super::names::{MAX_NAME_BYTES, is_safe_name};

/// The built-in profile's TOML text.
pub const DEFAULT_PROFILE_TOML: &str = include_str!("default-profile.toml");

/// The pseudo-path used in errors about the built-in profile.
const BUILTIN_PATH: &str = "<built-in default profile>";

/// Maximum length of a route's extension, without the dot.
const MAX_EXTENSION_BYTES: usize = 10;

/// Maximum length of a profile name.
const MAX_PROFILE_NAME_BYTES: usize = 40;

/// Errors of profile loading.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read routing profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("routing profile {name:?} is defined in both {first} and {second}; rename one of them")]
    Duplicate {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// The destination of one format's files inside a doctor's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Subfolder components; empty for the doctor's folder itself.
    pub folder: Vec<String>,
    /// Extension without the dot.
    pub extension: String,
    /// Use the sender's extension instead when it is plain (1 to 10 ASCII
    /// letters or digits).
    pub keep_sender_extension: bool,
}

/// A checked routing profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingProfile {
    pub name: String,
    pub description: String,
    /// Whether a JSON sidecar is written beside each document.
    pub sidecars: bool,
    routes: BTreeMap<Format, Route>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "default_true")]
    sidecars: bool,
    routes: Spanned<BTreeMap<Spanned<String>, RouteFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    folder: Spanned<String>,
    extension: Spanned<String>,
    #[serde(default)]
    keep_sender_extension: bool,
}

fn default_true() -> bool {
    true
}

impl RoutingProfile {
    /// Returns the built-in default profile.
    pub fn builtin() -> RoutingProfile {
        RoutingProfile::parse(DEFAULT_PROFILE_TOML, Path::new(BUILTIN_PATH))
            .expect("the built-in profile is valid, as a unit test checks")
    }

    /// Reads and checks a profile file.
    pub fn load(path: &Path) -> Result<RoutingProfile, ProfileError> {
        let text = fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        RoutingProfile::parse(&text, path)
    }

    /// Reads every `*.toml` file in `dir`, sorted by file name, and adds the
    /// built-in profile first. Profile names must be unique.
    pub fn load_dir(dir: &Path) -> Result<Vec<RoutingProfile>, ProfileError> {
        let read_error = |source| ProfileError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                paths.push(path);
            }
        }
        paths.sort();

        let mut loaded = vec![(PathBuf::from(BUILTIN_PATH), RoutingProfile::builtin())];
        for path in paths {
            let profile = RoutingProfile::load(&path)?;
            if let Some((first, _)) = loaded.iter().find(|(_, p)| p.name == profile.name) {
                return Err(ProfileError::Duplicate {
                    name: profile.name,
                    first: first.clone(),
                    second: path,
                });
            }
            loaded.push((path, profile));
        }
        Ok(loaded.into_iter().map(|(_, profile)| profile).collect())
    }

    /// Parses and checks profile text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RoutingProfile, ProfileError> {
        let invalid = |span: Option<Range<usize>>, message: String| {
            let (line, column) = line_column(text, span.map_or(0, |span| span.start));
            ProfileError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };

        let file: ProfileFile =
            toml::from_str(text).map_err(|err| invalid(err.span(), err.message().to_owned()))?;
        check_profile_name(&file.name)
            .map_err(|message| invalid(Some(file.name.span()), message))?;

        let mut routes = BTreeMap::new();
        for (key, route) in file.routes.get_ref() {
            let format = Format::from_name(key.get_ref()).ok_or_else(|| {
                invalid(
                    Some(key.span()),
                    format!("unknown format {:?}; {}", key.get_ref(), known_formats()),
                )
            })?;
            let route =
                check_route(route).map_err(|(span, message)| invalid(Some(span), message))?;
            routes.insert(format, route);
        }
        if !routes.contains_key(&Format::Other) {
            let message =
                "missing [routes.other]: every profile needs a route for unrecognised files"
                    .to_owned();
            return Err(invalid(Some(file.routes.span()), message));
        }

        Ok(RoutingProfile {
            name: file.name.into_inner(),
            description: file.description,
            sidecars: file.sidecars,
            routes,
        })
    }

    /// Returns the route for `format`, or the `other` route when the profile has none for it.
    pub fn route(&self, format: Format) -> &Route {
        self.routes
            .get(&format)
            .or_else(|| self.routes.get(&Format::Other))
            .expect("parse() rejects a profile without an `other` route")
    }
}

fn known_formats() -> String {
    let names: Vec<&str> = Format::ALL.iter().map(|format| format.name()).collect();
    format!("expected one of {}", names.join(", "))
}

fn check_profile_name(name: &Spanned<String>) -> Result<(), String> {
    let value = name.get_ref();
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if value.is_empty() || value.len() > MAX_PROFILE_NAME_BYTES || !plain {
        return Err(format!(
            "invalid profile name {value:?}: use 1 to {MAX_PROFILE_NAME_BYTES} lower-case \
             letters, digits or hyphens"
        ));
    }
    Ok(())
}

fn check_route(route: &RouteFile) -> Result<Route, (Range<usize>, String)> {
    let folder = route.folder.get_ref();
    let components: Vec<String> = if folder.is_empty() {
        Vec::new()
    } else {
        folder.split('/').map(str::to_owned).collect()
    };
    if let Some(bad) = components.iter().find(|c| !is_safe_name(c, MAX_NAME_BYTES)) {
        let message = format!(
            "invalid folder {folder:?}: component {bad:?} is not a safe name; use names \
             separated by '/', without a leading dot, a trailing dot or space, or any of \
             \\ < > : \" | ? *"
        );
        return Err((route.folder.span(), message));
    }

    let extension = route.extension.get_ref();
    let plain = extension.bytes().all(|b| b.is_ascii_alphanumeric());
    if extension.is_empty() || extension.len() > MAX_EXTENSION_BYTES || !plain {
        let message = format!(
            "invalid extension {extension:?}: use 1 to {MAX_EXTENSION_BYTES} ASCII letters or \
             digits, without the dot"
        );
        return Err((route.extension.span(), message));
    }

    Ok(Route {
        folder: components,
        extension: extension.clone(),
        keep_sender_extension: route.keep_sender_extension,
    })
}

/// Converts a byte offset into a 1-based line and column (in characters).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> (usize, usize, String) {
        match RoutingProfile::parse(text, Path::new("/etc/practicebox/profiles/emd.toml")) {
            Err(ProfileError::Invalid {
                line,
                column,
                message,
                ..
            }) => (line, column, message),
            other => panic!("expected an invalid-profile error, got {other:?}"),
        }
    }

    #[test]
    fn builtin_profile_routes() {
        let profile = RoutingProfile::builtin();
        assert_eq!(profile.name, "default");
        assert!(profile.sidecars);

        let lab = profile.route(Format::MedidocLab);
        assert_eq!(lab.folder, ["lab"]);
        assert_eq!(lab.extension, "lab");
        assert_eq!(profile.route(Format::MedidocReport).extension, "txt");
        assert_eq!(profile.route(Format::HealthOneLab).extension, "hl1");
        assert_eq!(profile.route(Format::Kmehr).extension, "xml");
        assert_eq!(profile.route(Format::Pdf).extension, "pdf");
        let other = profile.route(Format::Other);
        assert_eq!(other.folder, ["other"]);
        assert!(other.keep_sender_extension);
    }

    #[test]
    fn missing_route_falls_back_to_other() {
        let text = "name = \"flat\"\n[routes.other]\nfolder = \"\"\nextension = \"dat\"\n";
        let profile = RoutingProfile::parse(text, Path::new("flat.toml")).unwrap();
        let route = profile.route(Format::Pdf);
        assert!(route.folder.is_empty());
        assert_eq!(route.extension, "dat");
    }

    #[test]
    fn nested_folder_allowed() {
        let text =
            "name = \"nested\"\n[routes.other]\nfolder = \"import/rest\"\nextension = \"dat\"\n";
        let profile = RoutingProfile::parse(text, Path::new("nested.toml")).unwrap();
        assert_eq!(profile.route(Format::Other).folder, ["import", "rest"]);
    }

    #[test]
    fn unknown_format_reports_line() {
        let text = "name = \"emd\"\n\n[routes.other]\nfolder = \"o\"\nextension = \"bin\"\n\n[routes.medidok]\nfolder = \"x\"\nextension = \"txt\"\n";
        let (line, column, message) = parse_error(text);
        assert_eq!(line, 7);
        assert_eq!(column, 9);
        assert!(message.contains("unknown format \"medidok\""), "{message}");
        assert!(message.contains("medidoc-lab"), "{message}");
    }

    #[test]
    fn bad_extension_reports_line() {
        let text = "name = \"emd\"\n[routes.other]\nfolder = \"o\"\nextension = \".txt\"\n";
        let (line, column, message) = parse_error(text);
        assert_eq!((line, column), (4, 13));
        assert!(message.contains("invalid extension \".txt\""), "{message}");
    }

    #[test]
    fn unsafe_folder_reports_line() {
        for folder in ["../up", "a//b", "CON", "lab/", ".hidden", "a\\\\b"] {
            let text = format!(
                "name = \"emd\"\n[routes.other]\nfolder = \"{folder}\"\nextension = \"bin\"\n"
            );
            let (line, _, message) = parse_error(&text);
            assert_eq!(line, 3, "for {folder:?}");
            assert!(message.contains("invalid folder"), "{message}");
        }
    }

    #[test]
    fn syntax_error_reports_line() {
        let text = "name = \"emd\"\n[routes.other]\nfolder = \"o\nextension = \"bin\"\n";
        let (line, _, _) = parse_error(text);
        assert_eq!(line, 3);
    }

    #[test]
    fn unknown_key_reports_line() {
        let text = "name = \"emd\"\n[routes.other]\nfolder = \"o\"\nextention = \"bin\"\n";
        let (line, _, message) = parse_error(text);
        assert_eq!(line, 4);
        assert!(message.contains("extention"), "{message}");
    }

    #[test]
    fn missing_other_route_rejected() {
        let text = "name = \"emd\"\n[routes.pdf]\nfolder = \"pdf\"\nextension = \"pdf\"\n";
        let (_, _, message) = parse_error(text);
        assert!(message.contains("missing [routes.other]"), "{message}");
    }

    #[test]
    fn bad_profile_name_rejected() {
        let text = "name = \"My EMD\"\n[routes.other]\nfolder = \"o\"\nextension = \"bin\"\n";
        let (line, column, message) = parse_error(text);
        assert_eq!((line, column), (1, 8));
        assert!(message.contains("invalid profile name"), "{message}");
    }

    #[test]
    fn error_display_names_file_and_line() {
        let err = RoutingProfile::parse("name = 3\n", Path::new("/p/emd.toml")).unwrap_err();
        assert!(err.to_string().starts_with("/p/emd.toml:1:"), "{err}");
    }

    #[test]
    fn load_dir_rejects_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        let text = "name = \"emd\"\n[routes.other]\nfolder = \"o\"\nextension = \"bin\"\n";
        fs::write(dir.path().join("a.toml"), text).unwrap();
        fs::write(dir.path().join("notes.txt"), "not a profile").unwrap();
        let loaded = RoutingProfile::load_dir(dir.path()).unwrap();
        let names: Vec<&str> = loaded.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["default", "emd"]);

        fs::write(dir.path().join("b.toml"), text).unwrap();
        let err = RoutingProfile::load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, ProfileError::Duplicate { .. }), "{err}");
    }

    #[test]
    fn docs_example_parses() {
        let docs = include_str!("../../docs/routing-profiles.md");
        let docs = &docs[docs.find("## File format").unwrap()..];
        let start = docs
            .find("```toml\n")
            .expect("the docs hold a TOML example")
            + 8;
        let end = start + docs[start..].find("```").unwrap();
        let profile = RoutingProfile::parse(&docs[start..end], Path::new("docs example")).unwrap();
        assert_eq!(profile.route(Format::MedidocLab).extension, "lab");
        assert_eq!(profile.route(Format::MedidocReport).folder, ["import"]);
        assert_eq!(profile.route(Format::Pdf).extension, "bin");
    }
}
