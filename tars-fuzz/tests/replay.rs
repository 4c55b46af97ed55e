//! Replays every corpus input and every saved crash of every fuzz target through the same
//! entry functions the fuzz targets call, on stable Rust: `fuzz/corpus/<target>/*` and
//! `fuzz/artifacts/<target>/*`.

use std::path::Path;

#[test]
fn every_corpus_and_artifact_input_passes() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (target, entry) in tars_fuzz::TARGETS {
        let mut seen = 0;
        for kind in ["corpus", "artifacts"] {
            let dir = fuzz.join(kind).join(target);
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                if path.is_file() {
                    let data = std::fs::read(&path).unwrap();
                    let run = std::panic::catch_unwind(|| entry(&data));
                    assert!(run.is_ok(), "{target}: {} fails", path.display());
                    seen += 1;
                }
            }
        }
        assert!(seen > 0, "{target}: no corpus under {}", fuzz.display());
    }
}
