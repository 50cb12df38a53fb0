//! The `[samba]` table of the service configuration: its keys and their checks.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::Checker;
use crate::samba::sync::DEFAULT_RELOAD_COMMAND;
use crate::samba::{AccountName, SambaConfig, ShareAccess, ShareName, ShareSettings};

/// The `[samba]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SambaTable {
    fragment: Option<Spanned<PathBuf>>,
    practice_user: Spanned<String>,
    force_user: Option<Spanned<String>>,
    force_group: Option<Spanned<String>>,
    all_doctors_share: Option<Spanned<String>>,
    #[serde(default)]
    access: AccessConfig,
    reload_command: Option<Spanned<Vec<String>>>,
}

/// The access level in the `[samba]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AccessConfig {
    ReadOnly,
    #[default]
    ReadWrite,
}

impl Checker<'_> {
    /// Resolves the `[samba]` table; `data_dir` and `share_root` are `None` when they are
    /// invalid themselves.
    pub(super) fn samba(
        &mut self,
        table: &Spanned<SambaTable>,
        data_dir: Option<&Path>,
        share_root: Option<&Path>,
    ) -> Option<ShareSettings> {
        let span = table.span();
        let table = table.get_ref();
        let fragment = self.fragment(table.fragment.as_ref(), &span, data_dir, share_root);
        let practice_user = self
            .account("practice_user", Some(&table.practice_user))
            .flatten();
        let force_user = self.account("force_user", table.force_user.as_ref());
        let force_group = self.account("force_group", table.force_group.as_ref());
        let all_doctors_share = self.all_doctors_share(table.all_doctors_share.as_ref());
        let reload_command = self.reload_command(table.reload_command.as_ref());

        let settings = ShareSettings {
            fragment: fragment?,
            practice_user: practice_user?,
            force_user: force_user?,
            force_group: force_group?,
            all_doctors_share: all_doctors_share?,
            access: match table.access {
                AccessConfig::ReadOnly => ShareAccess::ReadOnly,
                AccessConfig::ReadWrite => ShareAccess::ReadWrite,
            },
            reload_command: reload_command?,
        };
        if let Some(root) = share_root {
            self.shares_renderable(&settings, root, &span)?;
        }
        Some(settings)
    }

    fn fragment(
        &mut self,
        value: Option<&Spanned<PathBuf>>,
        table_span: &std::ops::Range<usize>,
        data_dir: Option<&Path>,
        share_root: Option<&Path>,
    ) -> Option<PathBuf> {
        let (path, span) = match value {
            Some(value) => (self.absolute("fragment", value)?, value.span()),
            None => (
                data_dir?.join("samba").join("shares.conf"),
                table_span.clone(),
            ),
        };
        if let Some(root) = share_root
            && super::normalise(&path).starts_with(super::normalise(root))
        {
            self.problem(
                &span,
                format!(
                    "fragment {} is inside share_root {}, where the EMD would see it; put it in \
                     the data directory, such as /var/lib/practicebox/samba/shares.conf",
                    path.display(),
                    root.display()
                ),
            );
            return None;
        }
        Some(path)
    }

    /// Checks an account name; the outer `None` means invalid, the inner one absent.
    fn account(
        &mut self,
        key: &str,
        value: Option<&Spanned<String>>,
    ) -> Option<Option<AccountName>> {
        let Some(value) = value else {
            return Some(None);
        };
        match AccountName::new(value.get_ref()) {
            Ok(name) => Some(Some(name)),
            Err(error) => {
                self.problem(&value.span(), format!("invalid {key} in [samba]: {error}"));
                None
            }
        }
    }

    fn all_doctors_share(&mut self, value: Option<&Spanned<String>>) -> Option<Option<ShareName>> {
        let Some(value) = value else {
            return Some(None);
        };
        match ShareName::new(value.get_ref()) {
            Ok(name) => Some(Some(name)),
            Err(error) => {
                self.problem(
                    &value.span(),
                    format!("invalid all_doctors_share in [samba]: {error}"),
                );
                None
            }
        }
    }

    /// Checks that the program exists, so that a typo shows here rather than as a failed reload.
    fn reload_command(&mut self, value: Option<&Spanned<Vec<String>>>) -> Option<Vec<String>> {
        let Some(value) = value else {
            return Some(DEFAULT_RELOAD_COMMAND.map(str::to_owned).to_vec());
        };
        let command = value.get_ref();
        let Some(program) = command.first() else {
            return Some(Vec::new());
        };
        if program.is_empty() || find_program(program).is_none() {
            self.problem(
                &value.span(),
                format!(
                    "reload_command program {program:?} is not an executable file here or in \
                     PATH; give its full path, or write reload_command = [] to run none"
                ),
            );
            return None;
        }
        Some(command.clone())
    }

    /// Checks the settings that the fragment renders with: the share root's path and the
    /// all-doctors share.
    fn shares_renderable(
        &mut self,
        settings: &ShareSettings,
        share_root: &Path,
        span: &std::ops::Range<usize>,
    ) -> Option<()> {
        let config: SambaConfig = settings.samba_config(share_root, Vec::new());
        match config.render_fragment() {
            Ok(_) => Some(()),
            Err(error) => {
                self.problem(span, format!("invalid [samba] table: {error}"));
                None
            }
        }
    }
}

/// Finds `program` as a path with a `/`, or else in the directories of `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;

    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|path| executable(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::ServiceConfig;
    use super::*;

    const BASE: &str = "data_dir = \"/var/lib/practicebox\"\nshare_root = \"/srv/practicebox\"\n";

    fn parse(samba: &str) -> Result<ServiceConfig, super::super::ConfigError> {
        ServiceConfig::parse(&format!("{BASE}\n[samba]\n{samba}"), Path::new("box.toml"))
    }

    fn problems(samba: &str) -> Vec<String> {
        let error = parse(samba).unwrap_err();
        error.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn without_table_no_shares() {
        let config = ServiceConfig::parse(BASE, Path::new("box.toml")).unwrap();
        assert_eq!(config.samba, None);
    }

    #[test]
    fn defaults_fill_the_table() {
        let config = parse("practice_user = \"pbx-emd\"\n").unwrap();
        let samba = config.samba.unwrap();
        assert_eq!(
            samba.fragment,
            PathBuf::from("/var/lib/practicebox/samba/shares.conf")
        );
        assert_eq!(samba.practice_user.as_str(), "pbx-emd");
        assert_eq!(samba.force_user, None);
        assert_eq!(samba.all_doctors_share, None);
        assert_eq!(samba.access, ShareAccess::ReadWrite);
        assert_eq!(
            samba.reload_command,
            DEFAULT_RELOAD_COMMAND.map(str::to_owned)
        );
    }

    #[test]
    fn every_key_read() {
        let config = parse(
            "fragment = \"/var/lib/practicebox/smb/doctors.conf\"\npractice_user = \"emd\"\n\
             force_user = \"practicebox\"\nforce_group = \"staff\"\n\
             all_doctors_share = \"Alle artsen\"\naccess = \"read_only\"\nreload_command = []\n",
        )
        .unwrap();
        let samba = config.samba.unwrap();
        assert_eq!(
            samba.fragment,
            PathBuf::from("/var/lib/practicebox/smb/doctors.conf")
        );
        assert_eq!(samba.practice_user.as_str(), "emd");
        assert_eq!(samba.force_user.unwrap().as_str(), "practicebox");
        assert_eq!(samba.force_group.unwrap().as_str(), "staff");
        assert_eq!(samba.all_doctors_share.unwrap().as_str(), "Alle artsen");
        assert_eq!(samba.access, ShareAccess::ReadOnly);
        assert!(samba.reload_command.is_empty());
    }

    #[test]
    fn reload_command_with_full_path_accepted() {
        let config = parse(
            "practice_user = \"pbx-emd\"\nreload_command = [\"/bin/sh\", \"-c\", \"true\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.samba.unwrap().reload_command,
            ["/bin/sh", "-c", "true"]
        );
    }

    #[test]
    fn missing_practice_user_reported() {
        let lines = problems("access = \"read_only\"\n");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("practice_user"), "{lines:?}");
    }

    #[test]
    fn invalid_values_reported_with_lines() {
        let lines = problems(
            "fragment = \"/srv/practicebox/shares.conf\"\npractice_user = \"EMD user\"\n\
             force_user = \"1x\"\nall_doctors_share = \"global\"\n\
             reload_command = [\"no-such-reload-program\"]\n",
        );
        assert_eq!(lines.len(), 5, "{lines:?}");
        let expected = [
            "box.toml:5: fragment /srv/practicebox/shares.conf is inside share_root",
            "box.toml:6: invalid practice_user in [samba]: account name \"EMD user\" is invalid",
            "box.toml:7: invalid force_user in [samba]",
            "box.toml:8: invalid all_doctors_share in [samba]: share name \"global\" is reserved",
            "box.toml:9: reload_command program \"no-such-reload-program\" is not an executable",
        ];
        for (line, start) in lines.iter().zip(expected) {
            assert!(line.starts_with(start), "{line}");
        }
    }

    #[test]
    fn unknown_access_reported() {
        let lines = problems("practice_user = \"pbx-emd\"\naccess = \"write_only\"\n");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("write_only"), "{lines:?}");
    }

    #[test]
    fn share_root_unfit_for_smb_conf_reported() {
        let text = "data_dir = \"/var/lib/practicebox\"\nshare_root = \"/srv/100%\"\n\n\
                    [samba]\npractice_user = \"pbx-emd\"\n";
        let error = ServiceConfig::parse(text, Path::new("box.toml")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("box.toml:4: invalid [samba] table: path \"/srv/100%\""),
            "{message}"
        );
    }

    #[test]
    fn find_program_searches_path_and_full_paths() {
        assert!(find_program("sh").is_some());
        assert!(find_program("/bin/sh").is_some());
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "").unwrap();
        assert!(find_program(plain.to_str().unwrap()).is_none());
        assert!(find_program("no-such-reload-program").is_none());
    }
}
