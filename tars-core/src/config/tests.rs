//! The parser's rules, lookups, edits and the writer, end to end through [`Config`].

use super::*;

fn parse(text: &str) -> Config {
    Config::parse_str(text).unwrap_or_else(|e| panic!("{e}\n--- text ---\n{text}"))
}

fn syntax(text: &str) -> (usize, String) {
    match Config::parse_str(text) {
        Err(ConfigError::Syntax { file, line, reason }) => {
            assert_eq!(file, "<string>");
            (line, reason)
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn params_are_trimmed_split_at_the_first_equals_and_bare_keys_are_empty() {
    let c = parse(
        "<a>\n  \t key  =  v = w <x> \t\r\n allow\n empty=\n =novalue\n url=http://h/?q=1&r=2\n</a>",
    );
    assert_eq!(c.get("/a<key>"), Some("v = w <x>"));
    assert_eq!(c.get("/a<allow>"), Some(""));
    assert_eq!(c.get("/a<empty>"), Some(""));
    assert_eq!(c.get("/a<>"), Some("novalue"));
    assert_eq!(c.get("/a<url>"), Some("http://h/?q=1&r=2"));
    assert_eq!(c.keys("/a"), ["key", "allow", "empty", "", "url"]);
}

#[test]
fn comments_are_whole_lines_only() {
    let c = parse("# top\n<a>\n   # indented comment\nk=v # not a comment\n#k=ignored\n</a>");
    assert_eq!(c.get("/a<k>"), Some("v # not a comment"));
    assert_eq!(c.keys("/a"), ["k"]);
    assert_eq!(c.lines("/a"), ["k=v # not a comment"]);
}

#[test]
fn escapes_in_keys_and_values() {
    let c = parse("<a>\nk\\=1=x\\ty\\\\z\\r\\n\\=\nbare\\=key\ntwo\\\\=x\n</a>");
    assert_eq!(c.get("/a<k=1>"), Some("x\ty\\z\r\n="));
    assert_eq!(c.get("/a<bare=key>"), Some(""));
    // TC_Config only looks at the byte before `=`: `\\=` does not split either.
    assert_eq!(c.get("/a<two\\=x>"), Some(""));
    assert_eq!(c.lines("/a")[0], "k\\=1=x\\ty\\\\z\\r\\n\\=");
}

#[test]
fn a_bad_escape_is_an_error_with_its_line() {
    let (line, reason) = syntax("<a>\nok=1\npath=C:\\dir\n</a>");
    assert_eq!(line, 3);
    assert!(reason.contains("unknown escape `\\d`"), "{reason}");
    let (line, reason) = syntax("<a>\n\nk=v\\\n</a>");
    assert_eq!(line, 3);
    assert!(reason.contains("lone"), "{reason}");
}

#[test]
fn last_wins_and_the_key_moves_to_the_end() {
    let c = parse("<a>\nx=1\ny=2\nx=3\n</a>");
    assert_eq!(c.get("/a<x>"), Some("3"));
    assert_eq!(c.keys("/a"), ["y", "x"]);
    assert_eq!(c.lines("/a"), ["x=1", "y=2", "x=3"]);
    assert_eq!(c.domain("/a").unwrap().origin("x").unwrap().line, 4);
}

#[test]
fn a_reopened_domain_is_merged_in_its_first_place() {
    let c = parse("<t>\n<b>\nk=1\n</b>\n<a>\n</a>\n<b>\nj=2\nk=3\n</b>\n</t>");
    assert_eq!(c.sub_domains("/t"), ["b", "a"]);
    assert_eq!(c.keys("/t/b"), ["j", "k"]);
    assert_eq!(c.get("/t/b<k>"), Some("3"));
}

#[test]
fn tags_on_one_line_and_text_after_a_tag() {
    let c =
        parse("<tars><application>\n<server> ignored\n app = A\n</server></application>\n</tars>");
    // The rest of a tag line is ignored, as TC_Config does: `<application>` and
    // `</application>` here are never seen.
    assert_eq!(c.get("/tars/server<app>"), Some("A"));
    assert!(c.domain("/tars/application").is_none());
}

#[test]
fn domain_names_are_trimmed_and_not_unescaped() {
    let c = parse("< server >\nk=v\n</ server >\n<a\\=b>\n</a\\=b>\n<>\n</>");
    assert_eq!(c.get("/server<k>"), Some("v"));
    assert_eq!(c.sub_domains("/"), ["server", "a\\=b", ""]);
}

#[test]
fn params_outside_every_domain_belong_to_the_root() {
    let c = parse("top=1\n<a>\n</a>");
    assert_eq!(c.get("/<top>"), Some("1"));
    assert_eq!(c.keys("/"), ["top"]);
}

#[test]
fn crlf_and_blank_lines() {
    let c = parse("\r\n<a>\r\n\r\n  k = v  \r\n</a>\r\n");
    assert_eq!(c.get("/a<k>"), Some("v"));
}

#[test]
fn malformed_structure_is_reported_with_file_and_line() {
    let (line, reason) = syntax("<tars>\n<server>\nk=v\n");
    assert_eq!(line, 2);
    assert!(reason.contains("`<server>` is not closed"), "{reason}");
    assert!(reason.contains("line 3"), "{reason}");

    let (line, reason) = syntax("<tars>\n<server>\n</client>\n</tars>");
    assert_eq!(line, 3);
    assert!(
        reason.contains("`</client>` does not close `<server>` (opened at line 2)"),
        "{reason}"
    );

    let (line, reason) = syntax("<a>\n</a>\n</a>");
    assert_eq!(line, 3);
    assert!(reason.contains("closes no open domain"), "{reason}");

    let (line, reason) = syntax("<a>\n<b\n</a>");
    assert_eq!(line, 2);
    assert!(reason.contains("without `>`"), "{reason}");

    assert_eq!(syntax("</>").0, 1);
    assert_eq!(syntax("<").0, 1);
}

#[test]
fn errors_print_file_colon_line() {
    let e = Config::parse_bytes(b"<a>\n<b>\n</c>\n", "conf/x.conf").unwrap_err();
    assert!(e.to_string().starts_with("conf/x.conf:3: "), "{e}");
}

#[test]
fn non_utf8_is_fine_in_comments_only() {
    let c = Config::parse_bytes(b"# \xd6\xd0\xce\xc4\n<a>\nk=v\n</a>\n", "f").unwrap();
    assert_eq!(c.get("/a<k>"), Some("v"));
    let e = Config::parse_bytes(b"<a>\nk=\xff\n</a>\n", "f").unwrap_err();
    assert!(e.to_string().starts_with("f:2: not UTF-8"), "{e}");
}

#[test]
fn nesting_is_bounded() {
    let deep = "<a>\n".repeat(MAX_DEPTH) + &"</a>\n".repeat(MAX_DEPTH);
    assert!(Config::parse_str(&deep).is_ok());
    let deeper = "<a>\n".repeat(MAX_DEPTH + 1);
    let (line, reason) = syntax(&deeper);
    assert_eq!(line, MAX_DEPTH + 1);
    assert!(reason.contains("nested deeper"), "{reason}");
}

#[test]
fn lookups_by_path() {
    let c = parse(
        "<tars>\n<application>\nenableset=n\n<server>\napp=A\n<Z>\n</Z>\n<B>\n</B>\n</server>\n</application>\n</tars>",
    );
    assert_eq!(c.get("/tars/application<enableset>"), Some("n"));
    assert_eq!(c.get("/tars/application/server<app>"), Some("A"));
    assert_eq!(c.get("/tars//application/server/<app>"), Some("A"));
    assert_eq!(c.get("/tars/application/server<nope>"), None);
    assert_eq!(c.get("/tars/nope<app>"), None);
    assert_eq!(c.get("tars/application/server<app>"), None);
    assert!(matches!(
        c.param("/tars/application/server<nope>"),
        Err(ConfigError::NotFound { .. })
    ));
    assert!(matches!(
        c.param("/tars/application/server"),
        Err(ConfigError::Path { .. })
    ));
    assert_eq!(c.sub_domains("/tars/application/server"), ["Z", "B"]);
    assert_eq!(c.sub_domains("/tars/nope"), Vec::<&str>::new());
    assert_eq!(c.sub_domains("/"), ["tars"]);
    assert!(c.has_domain("/tars/application/server/Z"));
    assert!(c.has_domain("/"));
    assert!(!Config::new().has_domain("/"));
    assert!(!c.has_domain("/tars/x"));
    assert_eq!(
        c.domain("/tars/application/server").unwrap().name(),
        "server"
    );
    assert_eq!(c.domain("/").unwrap().name(), "");
}

#[test]
fn typed_getters() {
    let c = parse(
        "<s>\nthreads=8\nhex=0x20\nbad=12abc\nword=abc\nempty=\nflag=Y\noff=0\nodd=maybe\nsize=10M\n</s>",
    );
    assert_eq!(c.get_or("/s<threads>", 1u32), 8);
    assert_eq!(c.get_or("/s<hex>", 1i32), 32);
    assert_eq!(c.get_or("/s<absent>", 7i64), 7);
    assert_eq!(c.get_or("/s<empty>", 7i64), 7);
    assert_eq!(c.get_or("/s<bad>", 7i32), 12);
    assert_eq!(c.get_or("/s<word>", 7i32), 0);
    assert!(c.get_or("/s<flag>", false));
    assert!(!c.get_or("/s<off>", true));
    assert!(c.get_or("/s<odd>", true));
    assert_eq!(c.get_or("/s<size>", ByteSize(1)), ByteSize(10 << 20));
    assert_eq!(c.get_or("/s<threads>", String::from("d")), "8");
    assert_eq!(c.get_or("/s<empty>", String::from("d")), "d");
    assert_eq!(c.get_or("not a path", 3u8 as u16), 3);

    assert_eq!(c.get_parsed::<u32>("/s<threads>"), Ok(Some(8)));
    assert_eq!(c.get_parsed::<u32>("/s<absent>"), Ok(None));
    assert_eq!(c.get_parsed::<String>("/s<empty>"), Ok(Some(String::new())));
    let e = c.get_parsed::<u32>("/s<bad>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "<string>:4: /s<bad>: `12abc` is not an integer (u32)"
    );
    assert!(c.get_parsed::<u32>("/s<empty>").is_err());
    assert!(c.get_parsed::<bool>("/s<odd>").is_err());
    assert!(matches!(
        c.get_parsed::<u32>("/s"),
        Err(ConfigError::Path { .. })
    ));
}

#[test]
fn edits_by_path() {
    let mut c = parse("<tars>\n<server>\na=1\nb=2\n</server>\n</tars>");
    c.set("/tars/server<a>", "10").unwrap();
    c.set("/tars/server<c>", "3").unwrap();
    assert_eq!(c.keys("/tars/server"), ["a", "b", "c"]);
    c.set("/tars/new/deeper<k>", "v").unwrap();
    assert_eq!(c.get("/tars/new/deeper<k>"), Some("v"));
    assert_eq!(c.remove("/tars/server<b>").unwrap(), Some("2".into()));
    assert_eq!(c.remove("/tars/server<b>").unwrap(), None);
    c.insert_domain("/tars/server/Adapter")
        .unwrap()
        .set("endpoint", "tcp -p 1");
    assert_eq!(c.sub_domains("/tars/server"), ["Adapter"]);
    assert!(c.remove_domain("/tars/new").unwrap().is_some());
    assert_eq!(c.sub_domains("/tars"), ["server"]);
    assert!(c.remove_domain("/").is_err());
    assert!(c.set("/tars/server", "x").is_err());
    c.domain_mut("/tars/server").unwrap().set("z", "26");
    assert_eq!(c.get("/tars/server<z>"), Some("26"));
}

#[test]
fn join_as_tc_config_join_config() {
    let base =
        parse("<tars>\n<server>\nnode=N\nshared=base\n<Ad>\nallow\n</Ad>\n</server>\n</tars>");
    let template =
        parse("<tars>\nenableset=n\n<client>\nlocator=L\n</client>\n<server>\napp=A\nshared=tpl\n</server>\n</tars>");

    let mut updated = base.clone();
    updated.join(&template, true);
    assert_eq!(updated.keys("/tars/server"), ["node", "app", "shared"]);
    assert_eq!(updated.get("/tars/server<shared>"), Some("tpl"));
    assert_eq!(updated.sub_domains("/tars"), ["server", "client"]);
    assert_eq!(updated.sub_domains("/tars/server"), ["Ad"]);

    let mut kept = base.clone();
    kept.join(&template, false);
    assert_eq!(kept.keys("/tars/server"), ["app", "node", "shared"]);
    assert_eq!(kept.get("/tars/server<shared>"), Some("base"));
    assert_eq!(kept.sub_domains("/tars"), ["client", "server"]);
    assert_eq!(kept.get("/tars<enableset>"), Some("n"));
}

#[test]
fn writer_layout_and_round_trip() {
    let text = "top=1\n<tars>\n# c\n  <server>\n k = v=w \n allow\n esc=a\\tb\\\\c\\=d\n <Ad>\n e=1\n </Ad>\n  </server>\n x=y\n</tars>\n";
    let c = parse(text);
    let out = c.to_tars_string().unwrap();
    assert_eq!(
        out,
        "top=1\n<tars>\n  x=y\n  <server>\n    k=v\\=w\n    allow\n    esc=a\\tb\\\\c\\=d\n    <Ad>\n      e=1\n    </Ad>\n  </server>\n</tars>\n"
    );
    assert_eq!(parse(&out), c);
}

#[test]
fn writer_refuses_what_would_not_read_back() {
    let mut c = Config::new();
    c.set("/a<k>", " padded").unwrap();
    let e = c.to_tars_string().unwrap_err();
    assert!(e.to_string().contains("parameter /a<k>"), "{e}");
    let mut c = Config::new();
    c.insert_domain("/a").unwrap().add_domain("x>y");
    assert!(c
        .to_tars_string()
        .unwrap_err()
        .to_string()
        .contains("domain /a/x>y"));
}

#[test]
fn write_and_read_a_file() {
    let dir = std::env::temp_dir().join(format!("tars-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.conf");
    let c = parse("<tars>\nk=v\n</tars>");
    c.write_file(&path).unwrap();
    assert_eq!(Config::from_file(&path).unwrap(), c);
    let missing = Config::from_file(dir.join("missing.conf")).unwrap_err();
    assert!(matches!(missing, ConfigError::Io { .. }), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ \t]*<[a-z ]{0,4}>[ a-z]{0,3}",
            "[ \t]*</[a-z ]{0,4}>",
            "[ \t]*#.{0,8}",
            "[a-z=\\\\ <>#\t]{0,10}",
            "\\PC{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(c) = Config::parse_bytes(&bytes, "fuzz") {
                if let Ok(text) = c.to_tars_string() {
                    prop_assert_eq!(Config::parse_str(&text), Ok(c));
                }
            }
        }

        #[test]
        fn config_shaped_text_never_panics_and_round_trips(lines in proptest::collection::vec(line(), 0..40)) {
            let text = lines.join("\n");
            if let Ok(c) = Config::parse_str(&text) {
                for path in ["/a<a>", "/<>", "/a/b", "/"] {
                    let _ = c.get(path);
                    let _ = c.get_or(path, 0u32);
                    let _ = c.sub_domains(path);
                }
                let mut joined = c.clone();
                joined.join(&c, true);
                prop_assert_eq!(&joined, &c);
                // Whatever the writer accepts reads back as the same tree.
                if let Ok(out) = c.to_tars_string() {
                    prop_assert_eq!(Config::parse_str(&out), Ok(c.clone()), "{}", out);
                }
            }
        }

        #[test]
        fn any_key_and_value_round_trip_or_are_refused(key in "[\\PC\t\r\n]{0,8}", value in "[\\PC\t\r\n]{0,8}") {
            let mut c = Config::new();
            c.insert_domain("/d").unwrap().set(key, value);
            if let Ok(out) = c.to_tars_string() {
                prop_assert_eq!(Config::parse_str(&out), Ok(c.clone()), "{}", out);
            }
        }
    }
}
