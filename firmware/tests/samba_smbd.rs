//! End-to-end tests of the Samba configuration against a real smbd on 127.0.0.1, read with
//! smbclient as the EMD would. They need root and the samba, samba-common-bin and smbclient
//! packages; the harness fails with a clear message when either is missing.

#[path = "support/samba.rs"]
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, ensure};
use practicebox::samba::{
    AccountName, AllDoctorsShare, DoctorShare, SambaConfig, ShareAccess, ShareName,
    StandaloneConfig,
};
use support::{SmbClient, SmbServer, TEST_PRACTICE_USER, parse_listing};
use tempfile::TempDir;

const PASSWORD: &str = "correct-horse-7";

/// Creates a share root with one doctor folder, `janssens`, that contains `files`.
fn practice(files: &[(&str, &[u8])]) -> Result<(TempDir, DoctorShare)> {
    let root = tempfile::tempdir()?;
    let folder = root.path().join("janssens");
    fs::create_dir(&folder)?;
    for (name, bytes) in files {
        fs::write(folder.join(name), bytes)?;
    }
    let share = DoctorShare::for_folder(&folder)?;
    Ok((root, share))
}

fn start(root: &TempDir, shares: Vec<DoctorShare>) -> Result<(SmbServer, SmbClient)> {
    let server = SmbServer::start(root.path(), shares, TEST_PRACTICE_USER, PASSWORD)?;
    let client = server.client(TEST_PRACTICE_USER, PASSWORD)?;
    Ok((server, client))
}

fn names(entries: &[support::DirEntry]) -> Vec<&str> {
    let mut names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    names.sort_unstable();
    names
}

/// Bytes with every value and no short period, large enough to need several SMB reads.
fn sample_bytes() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn box_config(root: &Path) -> Result<SambaConfig> {
    Ok(SambaConfig {
        share_root: root.to_owned(),
        doctor_shares: vec![
            DoctorShare::for_folder(root.join("janssens"))?,
            DoctorShare {
                access: ShareAccess::ReadOnly,
                ..DoctorShare::for_folder(root.join("Dr Müller"))?
            },
        ],
        all_doctors_share: Some(AllDoctorsShare {
            name: ShareName::new("alle-artsen")?,
            access: ShareAccess::ReadOnly,
        }),
        practice_user: AccountName::new("pbx-emd")?,
        force_user: Some(AccountName::new("practicebox")?),
        force_group: None,
        interfaces: vec!["lo".to_owned(), "eth0".to_owned()],
        port: 445,
    })
}

/// Runs `testparm -s` on `config_path` and checks it loads without complaint.
fn testparm_check(config_path: &Path) -> Result<()> {
    let output = Command::new("testparm")
        .arg("-s")
        .arg(config_path)
        .output()
        .context("running testparm; install the samba-common-bin package")?;
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(output.status.success(), "testparm failed: {stderr}");
    for complaint in ["Unknown parameter", "Ignoring", "ERROR", "WARNING"] {
        assert!(
            !stderr.contains(complaint),
            "testparm said {complaint}: {stderr}"
        );
    }
    Ok(())
}

/// Returns the value testparm resolves for `parameter` in `section`.
fn testparm_value(config_path: &Path, section: &str, parameter: &str) -> Result<String> {
    let output = Command::new("testparm")
        .arg("-s")
        .arg(format!("--section-name={section}"))
        .arg(format!("--parameter-name={parameter}"))
        .arg(config_path)
        .output()?;
    ensure!(
        output.status.success(),
        "testparm {section}/{parameter} failed"
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[test]
fn testparm_accepts_box_config() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("smb.conf");
    fs::write(
        &config_path,
        box_config(Path::new("/srv/practicebox/share"))?.render_box()?,
    )?;

    testparm_check(&config_path)?;
    let expected = [
        ("global", "server min protocol", "SMB2"),
        ("global", "server max protocol", "SMB3"),
        ("global", "server smb encrypt", "desired"),
        ("global", "server signing", "required"),
        ("global", "map to guest", "Never"),
        ("global", "restrict anonymous", "2"),
        ("global", "logging", "systemd"),
        ("global", "load printers", "No"),
        ("global", "disable spoolss", "Yes"),
        ("global", "smb1 unix extensions", "No"),
        ("janssens", "read only", "No"),
        ("janssens", "guest ok", "No"),
        ("janssens", "valid users", "pbx-emd"),
        ("janssens", "force user", "practicebox"),
        ("janssens", "veto files", "/.pbx-staging-*/"),
        ("janssens", "hide dot files", "Yes"),
        ("janssens", "delete veto files", "No"),
        ("janssens", "create mask", "0640"),
        ("janssens", "directory mask", "0750"),
        ("Dr Müller", "read only", "Yes"),
        ("alle-artsen", "path", "/srv/practicebox/share"),
        ("alle-artsen", "read only", "Yes"),
    ];
    for (section, parameter, value) in expected {
        assert_eq!(
            testparm_value(&config_path, section, parameter)?,
            value,
            "[{section}] {parameter}"
        );
    }
    Ok(())
}

/// The box's smb.conf settings as the image ships them.
const SHIPPED_CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../image/package/etc/samba/practicebox.conf"
);

/// The installed fragment that the shipped settings include.
const SHIPPED_INCLUDE: &str = "include = /var/lib/practicebox-samba/shares.conf";

#[test]
fn testparm_accepts_shipped_conf_with_fragment() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let fragment = dir.path().join("shares.conf");
    fs::write(
        &fragment,
        box_config(Path::new("/srv/practicebox"))?.render_fragment()?,
    )?;
    let shipped = fs::read_to_string(SHIPPED_CONF)?;
    ensure!(
        shipped.contains(SHIPPED_INCLUDE),
        "{SHIPPED_CONF} no longer contains {SHIPPED_INCLUDE:?}"
    );
    let config_path = dir.path().join("smb.conf");
    let include = format!("include = {}", fragment.display());
    fs::write(&config_path, shipped.replace(SHIPPED_INCLUDE, &include))?;

    testparm_check(&config_path)?;
    let section = "De-Smet_Élodie_1-98765-43-001";
    fs::write(
        &fragment,
        box_config(Path::new("/srv/practicebox"))?
            .render_fragment()?
            .replace("[janssens]", &format!("[{section}]")),
    )?;
    assert_eq!(
        testparm_value(&config_path, section, "valid users")?,
        "pbx-emd"
    );
    // testparm prints SMB2_10 as SMB2. smb.conf(5) of Samba 4.17: "By default SMB2 selects the
    // SMB2_10 variant."
    assert_eq!(
        testparm_value(&config_path, "global", "server min protocol")?,
        "SMB2"
    );
    assert_eq!(
        testparm_value(&config_path, "global", "map to guest")?,
        "Never"
    );
    assert_eq!(
        testparm_value(&config_path, "alle-artsen", "path")?,
        "/srv/practicebox"
    );
    Ok(())
}

#[test]
fn testparm_accepts_standalone_config() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut samba = box_config(&dir.path().join("share"))?;
    samba.interfaces = vec!["127.0.0.1".to_owned()];
    samba.port = 44_450;
    let standalone = StandaloneConfig {
        samba,
        runtime_dir: dir.path().join("run"),
        include: None,
    };
    // testparm reports missing state folders as errors, as smbd would.
    for runtime_dir in standalone.runtime_dirs() {
        fs::create_dir_all(runtime_dir)?;
    }
    let config_path = dir.path().join("smb.conf");
    fs::write(&config_path, standalone.render()?)?;

    testparm_check(&config_path)?;
    assert_eq!(
        testparm_value(&config_path, "global", "smb ports")?,
        "44450"
    );
    assert_eq!(
        testparm_value(&config_path, "global", "interfaces")?,
        "127.0.0.1"
    );
    assert_eq!(
        testparm_value(&config_path, "global", "bind interfaces only")?,
        "Yes"
    );
    assert_eq!(
        testparm_value(&config_path, "global", "passdb backend")?,
        format!("tdbsam:{}", standalone.passdb_file().display())
    );
    Ok(())
}

#[test]
fn practice_user_lists_and_downloads() -> Result<()> {
    let content = sample_bytes();
    let (root, share) = practice(&[("verslag.pdf", &content), ("labo.txt", b"#A1\r\n")])?;
    let (_server, client) = start(&root, vec![share])?;

    let entries = client.list("janssens")?;
    assert_eq!(names(&entries), ["labo.txt", "verslag.pdf"]);
    let pdf = entries.iter().find(|entry| entry.name == "verslag.pdf");
    assert_eq!(pdf.map(|entry| entry.size), Some(content.len() as u64));

    assert_eq!(client.get("janssens", "verslag.pdf")?, content);
    assert_eq!(client.get("janssens", "labo.txt")?, b"#A1\r\n");
    Ok(())
}

#[test]
fn guest_login_refused() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a")])?;
    let (server, _client) = start(&root, vec![share])?;

    let output = server.anonymous_client()?.run("janssens", "ls")?;
    assert!(!output.success, "{output:?}");
    let status = output.nt_status();
    assert!(
        matches!(
            status.as_deref(),
            Some("NT_STATUS_ACCESS_DENIED" | "NT_STATUS_LOGON_FAILURE")
        ),
        "{output:?}"
    );
    assert!(!output.stdout.contains("a.txt"));
    Ok(())
}

#[test]
fn wrong_password_refused() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a")])?;
    let (server, _client) = start(&root, vec![share])?;

    let output = server
        .client(TEST_PRACTICE_USER, "wrong-password")?
        .run("janssens", "ls")?;
    assert!(!output.success, "{output:?}");
    assert_eq!(
        output.nt_status().as_deref(),
        Some("NT_STATUS_LOGON_FAILURE")
    );
    Ok(())
}

#[test]
fn other_account_refused() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a")])?;
    let (server, _client) = start(&root, vec![share])?;
    server.add_account("pbx-other-test", PASSWORD)?;

    let output = server
        .client("pbx-other-test", PASSWORD)?
        .run("janssens", "ls")?;
    assert!(!output.success, "{output:?}");
    assert_eq!(
        output.nt_status().as_deref(),
        Some("NT_STATUS_ACCESS_DENIED")
    );
    Ok(())
}

#[test]
fn staging_file_invisible_and_unfetchable() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a"), (".pbx-staging-x", b"half a message")])?;
    let (_server, client) = start(&root, vec![share])?;

    assert_eq!(names(&client.list("janssens")?), ["a.txt"]);

    let output = client.try_get("janssens", ".pbx-staging-x")?;
    assert!(!output.success, "{output:?}");
    assert_eq!(
        output.nt_status().as_deref(),
        Some("NT_STATUS_OBJECT_NAME_NOT_FOUND")
    );
    Ok(())
}

#[test]
fn dot_files_hidden() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a"), (".index", b"x")])?;
    let (_server, client) = start(&root, vec![share])?;

    let entries = client.list("janssens")?;
    let dot = entries.iter().find(|entry| entry.name == ".index");
    let plain = entries.iter().find(|entry| entry.name == "a.txt");
    assert!(dot.is_some_and(|entry| entry.is_hidden()), "{entries:?}");
    assert!(plain.is_some_and(|entry| !entry.is_hidden()), "{entries:?}");
    Ok(())
}

#[test]
fn smb1_refused() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a")])?;
    let (server, _client) = start(&root, vec![share])?;

    let output = server
        .client(TEST_PRACTICE_USER, PASSWORD)?
        .with_protocols("NT1", "NT1")
        .run("janssens", "ls")?;
    assert!(!output.success, "{output:?}");
    // smbclient reports a server that selects no SMB1 dialect this way.
    assert_eq!(
        output.nt_status().as_deref(),
        Some("NT_STATUS_INVALID_NETWORK_RESPONSE"),
        "{output:?}"
    );
    assert!(!output.stdout.contains("a.txt"));
    Ok(())
}

#[test]
fn smb2_02_refused_smb2_10_accepted() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a")])?;
    let (server, _client) = start(&root, vec![share])?;

    let old = server
        .client(TEST_PRACTICE_USER, PASSWORD)?
        .with_protocols("SMB2_02", "SMB2_02")
        .run("janssens", "ls")?;
    assert!(!old.success, "{old:?}");
    assert_eq!(old.nt_status().as_deref(), Some("NT_STATUS_NOT_SUPPORTED"));

    let smb21 = server
        .client(TEST_PRACTICE_USER, PASSWORD)?
        .with_protocols("SMB2_10", "SMB2_10");
    assert_eq!(
        names(&parse_listing(&smb21.run("janssens", "ls")?.stdout)?),
        ["a.txt"]
    );
    Ok(())
}

#[test]
fn encryption_available_on_smb3() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"encrypted")])?;
    let (server, _client) = start(&root, vec![share])?;

    // The client refuses to continue unless the session is encrypted.
    let client = server
        .client(TEST_PRACTICE_USER, PASSWORD)?
        .with_arg("--client-protection=encrypt");
    assert_eq!(client.get("janssens", "a.txt")?, b"encrypted");
    Ok(())
}

#[test]
fn accented_names_round_trip() -> Result<()> {
    let files: [(&str, &[u8]); 3] = [
        ("café-résumé.txt", b"e acute"),
        ("Müller über.hl7", b"u umlaut"),
        ("Ærø ñ.pdf", b"more"),
    ];
    let (root, share) = practice(&files)?;
    let (_server, client) = start(&root, vec![share])?;

    let mut expected: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    expected.sort_unstable();
    assert_eq!(names(&client.list("janssens")?), expected);
    for (name, bytes) in files {
        assert_eq!(client.get("janssens", name)?, bytes, "{name}");
    }
    Ok(())
}

fn upload_source(root: &TempDir) -> Result<PathBuf> {
    let path = root.path().join("upload.txt");
    fs::write(&path, b"from the EMD")?;
    Ok(path)
}

#[test]
fn read_only_share_rejects_writes() -> Result<()> {
    let (root, mut share) = practice(&[("a.txt", b"a")])?;
    share.access = ShareAccess::ReadOnly;
    let folder = share.path.clone();
    // The folder itself is writable, so only the share setting stops the writes.
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o777))?;
    let source = upload_source(&root)?;
    let (_server, client) = start(&root, vec![share])?;

    let put = client.run("janssens", &format!("put \"{}\" new.txt", source.display()))?;
    assert!(!put.success, "{put:?}");
    assert_eq!(put.nt_status().as_deref(), Some("NT_STATUS_ACCESS_DENIED"));
    assert!(!folder.join("new.txt").exists());

    // smbclient exits with 0 after a failed `del`, so the test checks the status code.
    let del = client.run("janssens", "del a.txt")?;
    assert_eq!(
        del.nt_status().as_deref(),
        Some("NT_STATUS_ACCESS_DENIED"),
        "{del:?}"
    );
    assert!(folder.join("a.txt").exists());
    Ok(())
}

#[test]
fn read_write_share_allows_move_and_delete() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a"), ("b.txt", b"b")])?;
    let folder = share.path.clone();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o777))?;
    let source = upload_source(&root)?;
    let (_server, client) = start(&root, vec![share])?;

    let output = client.run(
        "janssens",
        &format!(
            "mkdir archief; rename a.txt archief\\a.txt; del b.txt; put \"{}\" new.txt",
            source.display()
        ),
    )?;
    assert!(output.success, "{output:?}");
    assert_eq!(output.nt_status(), None, "{output:?}");

    assert_eq!(fs::read(folder.join("archief").join("a.txt"))?, b"a");
    assert!(!folder.join("a.txt").exists());
    assert!(!folder.join("b.txt").exists());
    let file_mode = fs::metadata(folder.join("new.txt"))?.permissions().mode() & 0o777;
    let dir_mode = fs::metadata(folder.join("archief"))?.permissions().mode() & 0o777;
    assert_eq!(file_mode & !0o640, 0, "file mode {file_mode:o}");
    assert_eq!(dir_mode & !0o750, 0, "folder mode {dir_mode:o}");
    Ok(())
}

#[test]
fn read_write_share_protects_staging() -> Result<()> {
    let (root, share) = practice(&[(".pbx-staging-x", b"half")])?;
    let folder = share.path.clone();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o777))?;
    let pending = folder.join("pending");
    fs::create_dir(&pending)?;
    fs::set_permissions(&pending, fs::Permissions::from_mode(0o777))?;
    fs::write(pending.join(".pbx-staging-y"), b"half")?;
    let source = upload_source(&root)?;
    let (_server, client) = start(&root, vec![share])?;

    let del = client.run("janssens", "del .pbx-staging-x")?;
    assert!(del.nt_status().is_some(), "{del:?}");
    assert!(folder.join(".pbx-staging-x").exists());

    let put = client.run(
        "janssens",
        &format!("put \"{}\" .pbx-staging-evil", source.display()),
    )?;
    assert!(!put.success, "{put:?}");
    assert!(!folder.join(".pbx-staging-evil").exists());

    // With `delete veto files = no`, a folder that holds only a staging file stays.
    let rmdir = client.run("janssens", "rmdir pending")?;
    assert_eq!(
        rmdir.nt_status().as_deref(),
        Some("NT_STATUS_DIRECTORY_NOT_EMPTY"),
        "{rmdir:?}"
    );
    assert!(pending.join(".pbx-staging-y").exists());
    Ok(())
}

#[test]
fn all_doctors_share_lists_doctor_folders() -> Result<()> {
    let root = tempfile::tempdir()?;
    let mut shares = Vec::new();
    for doctor in ["janssens", "peeters"] {
        let folder = root.path().join(doctor);
        fs::create_dir(&folder)?;
        fs::write(folder.join(format!("{doctor}.txt")), doctor)?;
        fs::write(folder.join(".pbx-staging-1"), b"half")?;
        shares.push(DoctorShare::for_folder(folder)?);
    }
    let config = SambaConfig {
        share_root: root.path().to_owned(),
        doctor_shares: shares,
        all_doctors_share: Some(AllDoctorsShare {
            name: ShareName::new("alle-artsen")?,
            access: ShareAccess::ReadOnly,
        }),
        practice_user: AccountName::new(TEST_PRACTICE_USER)?,
        force_user: None,
        force_group: None,
        interfaces: Vec::new(),
        port: 0,
    };
    let server = SmbServer::start_config(config, PASSWORD)?;
    let client = server.client(TEST_PRACTICE_USER, PASSWORD)?;

    let top = client.list("alle-artsen")?;
    assert_eq!(names(&top), ["janssens", "peeters"]);
    assert!(top.iter().all(|entry| entry.is_dir()), "{top:?}");

    let inner = client.run("alle-artsen", "ls peeters\\*")?;
    assert!(inner.success, "{inner:?}");
    assert_eq!(names(&parse_listing(&inner.stdout)?), ["peeters.txt"]);
    assert_eq!(
        client.get("alle-artsen", "peeters\\peeters.txt")?,
        b"peeters"
    );

    let staging = client.try_get("alle-artsen", "peeters\\.pbx-staging-1")?;
    assert!(!staging.success, "{staging:?}");
    assert_eq!(names(&client.list("peeters")?), ["peeters.txt"]);
    Ok(())
}

#[test]
fn server_stops_on_drop() -> Result<()> {
    let (root, share) = practice(&[("a.txt", b"a")])?;
    let (server, _client) = start(&root, vec![share])?;
    let port = server.port();
    drop(server);

    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "port {port} still open"
    );
    Ok(())
}

#[test]
fn listing_parser_reads_smbclient_lines() -> Result<()> {
    let stdout = "  .                                   D        0  Fri Dec  4 17:13:46 2026\n\
                  \x20 ..                                  D        0  Fri Dec  4 17:13:46 2026\n\
                  \x20 .hidden                             H        4  Fri Dec  4 17:13:46 2026\n\
                  \x20 café-über.txt                     N        4  Fri Dec  4 17:13:46 2026\n\
                  \x20 two  spaces in name.pdf             A   123456  Mon Jan 12 08:00:01 2026\n\
                  \x20 archief                            DH        0  Fri Dec  4 17:13:46 2026\n\
                  \n\
                  \t\t264212084 blocks of size 1024. 74329164 blocks available\n";
    let entries = parse_listing(stdout)?;

    let summary: Vec<(&str, &str, u64)> = entries
        .iter()
        .map(|entry| (entry.name.as_str(), entry.attributes.as_str(), entry.size))
        .collect();
    assert_eq!(
        summary,
        [
            (".hidden", "H", 4),
            ("café-über.txt", "N", 4),
            ("two  spaces in name.pdf", "A", 123_456),
            ("archief", "DH", 0),
        ]
    );
    Ok(())
}

#[test]
fn listing_parser_rejects_garbage() {
    let error = parse_listing("  not a listing line\n").expect_err("garbage");
    assert!(
        format!("{error:#}").contains("unexpected ls line"),
        "{error:#}"
    );
}
