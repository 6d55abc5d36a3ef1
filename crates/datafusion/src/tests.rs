//! The DataFusion verdict against the verdict engine folding the same files directly.

use std::path::PathBuf;

use arrow_array::{Array, Int64Array, StringArray};
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};
use vpcflow_generate::{Generator, Options};
use vpcflow_input::{Input, decode_source, open};
use vpcflow_verdict::{Catalogue, VerdictState};

use super::*;

/// `records` generated records (a fifth REJECTed) cut into `files` files in `dir`, and the
/// catalogue of their endpoints.
fn generated(dir: &std::path::Path, records: u64, files: usize) -> (Vec<PathBuf>, Catalogue) {
    let mut generator = Generator::new(Options {
        records,
        ..Options::default()
    });
    let mut text = Vec::new();
    generator.write_to(&mut text).unwrap();
    let catalogue = Catalogue::from_toml(&generator.catalogue_toml(), "generated").unwrap();
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let per = lines.len().div_ceil(files);
    let paths = lines
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("part-{i:03}.log"));
            std::fs::write(&path, chunk.concat()).unwrap();
            path
        })
        .collect();
    (paths, catalogue)
}

/// The verdict engine's state of `files`, folded one after the other on one thread.
fn folded(files: &[PathBuf], verdict: &VerdictUdaf) -> VerdictState {
    let mut state = VerdictState::new(verdict.plan().clone());
    let mut decoder = Decoder::new(DecoderOptions::default());
    for f in files {
        let input = Input::Path(f.clone());
        let opened = open(&input).unwrap();
        decode_source(opened, &input.name(), &mut decoder, &mut |b| {
            state.fold(&b).unwrap();
            Ok(())
        })
        .unwrap();
    }
    state
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_sql_verdict_is_the_engines_whatever_the_partitions_and_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut files, catalogue) = generated(dir.path(), 20_000, 12);
    let verdict = || VerdictUdaf::new(catalogue.clone(), None, None);
    let expected = folded(&files, &verdict());
    assert!(expected.pairs() > 10, "the data has pairs to judge");
    let blocked = expected
        .report()
        .verdicts
        .iter()
        .filter(|v| v.verdict.as_str() == "blocked")
        .count();
    assert!(blocked > 0, "and some of them are blocked");
    let rt = runtime();
    for (partitions, reversed) in [(1, false), (4, false), (4, true), (7, true)] {
        if reversed {
            files.reverse();
        }
        let table = FlowTable::of_files(files.clone(), LogFormat::default_v2());
        let ctx = session(
            table.clone(),
            Some(verdict()),
            partitions,
            AwsOptions::default(),
        )
        .unwrap();
        let state = rt
            .block_on(verdict_state(&ctx, &table, &verdict()))
            .unwrap();
        assert_eq!(
            state.encode(),
            expected.encode(),
            "{partitions} partitions, files reversed: {reversed}"
        );
        // Judged in the final stage (`vpcflow_judged`), the verdicts read back are the
        // engine's, their confidence decided with every shard's header.
        let ctx = session(
            table.clone(),
            Some(verdict().judging()),
            partitions,
            AwsOptions::default(),
        )
        .unwrap();
        let judged = rt.block_on(shard_states(&ctx, &table, JUDGED)).unwrap();
        let judged: Vec<&[u8]> = judged.iter().flat_map(|a| a.iter().flatten()).collect();
        assert!(judged.len() > 1, "several shards");
        let agg = vpcflow_verdict::Aggregator::new(catalogue.clone(), None, None);
        let report = agg.report_shards(&judged, 2).unwrap();
        assert_eq!(report.verdicts, expected.report().verdicts);
        assert_eq!(report.stats, expected.stats());
    }
}

#[test]
fn a_plan_with_four_partitions_shuffles_by_shard_between_a_partial_and_a_final_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (files, catalogue) = generated(dir.path(), 2_000, 6);
    let table = FlowTable::of_files(files, LogFormat::default_v2());
    let verdict = VerdictUdaf::new(catalogue, None, None);
    let ctx = session(table.clone(), Some(verdict), 4, AwsOptions::default()).unwrap();
    let rt = runtime();
    let plan = rt
        .block_on(async {
            let df = ctx
                .sql(&format!("EXPLAIN {}", verdict_sql(&table, VERDICT)))
                .await?;
            df.collect().await
        })
        .unwrap();
    let text = arrow_cast_text(&plan);
    assert!(text.contains("mode=Partial"), "{text}");
    assert!(
        text.contains("RepartitionExec: partitioning=Hash"),
        "{text}"
    );
    assert!(
        text.contains("file_groups={6 groups") && text.contains("file_type=vpcflow"),
        "{text}"
    );
}

/// The `plan` column of an EXPLAIN's batches.
fn arrow_cast_text(batches: &[arrow_array::RecordBatch]) -> String {
    let mut out = String::new();
    for b in batches {
        if let Some(plans) = b.column(1).as_any().downcast_ref::<StringArray>() {
            for p in plans.iter().flatten() {
                out.push_str(p);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn counts_by_action_are_the_decoders() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = generated(dir.path(), 5_000, 5);
    let mut expected = std::collections::BTreeMap::<String, u64>::new();
    let mut decoder = Decoder::new(DecoderOptions::default());
    for f in &files {
        let input = Input::Path(f.clone());
        decode_source(open(&input).unwrap(), "f", &mut decoder, &mut |b| {
            let actions = arrow_cast::display::ArrayFormatter::try_new(
                b.column_by_name("action").unwrap().as_ref(),
                &Default::default(),
            )
            .unwrap();
            for i in 0..b.num_rows() {
                *expected.entry(actions.value(i).to_string()).or_default() += 1;
            }
            Ok(())
        })
        .unwrap();
    }
    // ACCEPT, REJECT and the null action of NODATA records.
    assert_eq!(expected.len(), 3, "{expected:?}");
    let ctx = session(
        FlowTable::of_files(files, LogFormat::default_v2()),
        None,
        4,
        AwsOptions::default(),
    )
    .unwrap();
    let batches = runtime()
        .block_on(async {
            ctx.sql("SELECT CAST(action AS VARCHAR) AS action, count(*) AS n FROM flows GROUP BY 1 ORDER BY 1 NULLS FIRST")
                .await?
                .collect()
                .await
        })
        .unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let a =
            arrow_cast::display::ArrayFormatter::try_new(b.column(0).as_ref(), &Default::default())
                .unwrap();
        let n = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            got.push((a.value(i).to_string(), n.value(i) as u64));
        }
    }
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
}

#[test]
fn a_column_the_verdict_does_not_read_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let (files, catalogue) = generated(dir.path(), 100, 1);
    let ctx = session(
        FlowTable::of_files(files, LogFormat::default_v2()),
        Some(VerdictUdaf::new(catalogue, None, None)),
        2,
        AwsOptions::default(),
    )
    .unwrap();
    let err = runtime()
        .block_on(async {
            ctx.sql("SELECT vpcflow_verdict(srcaddr, bytes) FROM flows")
                .await?
                .collect()
                .await
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("`bytes` is not one of them"), "{err}");
}

#[test]
fn the_shard_is_the_same_both_ways_and_spread() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = generated(dir.path(), 3_000, 2);
    let ctx = session(
        FlowTable::of_files(files, LogFormat::default_v2()),
        None,
        2,
        AwsOptions::default(),
    )
    .unwrap();
    let batches = runtime()
        .block_on(async {
            ctx.sql(
                "SELECT count(*) FILTER (WHERE vpcflow_shard(srcaddr, dstaddr) <> vpcflow_shard(dstaddr, srcaddr)), \
                 count(DISTINCT vpcflow_shard(srcaddr, dstaddr)), max(vpcflow_shard(srcaddr, dstaddr)) FROM flows",
            )
            .await?
            .collect()
            .await
        })
        .unwrap();
    let b = &batches[0];
    let value = |i: usize| {
        arrow_cast::display::ArrayFormatter::try_new(b.column(i).as_ref(), &Default::default())
            .unwrap()
            .value(0)
            .to_string()
    };
    assert_eq!(value(0), "0", "asymmetric shards");
    assert!(
        value(1).parse::<u32>().unwrap() > SHARDS / 2,
        "{}",
        value(1)
    );
    assert!(value(2).parse::<u32>().unwrap() < SHARDS);
}

#[test]
fn a_scan_of_no_sources_is_one_empty_partition() {
    // Every key pruned by a time filter leaves a table with nothing to read; its scan must
    // still have a partition, or a single-partition aggregate above it fails the plan check.
    let scan = scan_exec(Vec::new(), LogFormat::default_v2(), false, None).unwrap();
    assert_eq!(scan.properties().partitioning.partition_count(), 1);
    let (parts, _) = scan_parts(scan.as_ref()).unwrap();
    assert_eq!(parts, vec![Vec::<FlowSource>::new()]);
    for partitions in [1, 4] {
        let ctx = session(
            FlowTable::of_files(Vec::new(), LogFormat::default_v2()),
            None,
            partitions,
            AwsOptions::default(),
        )
        .unwrap();
        let batches = runtime()
            .block_on(async { ctx.sql("SELECT count(*) FROM flows").await?.collect().await })
            .unwrap();
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(n.value(0), 0, "{partitions} partitions");
    }
}
