//! `zipcoord bucket prune`: deletes miners' objects of old epochs with the server's own S3 credentials, listing
//! the bucket page by page, so that the bucket does not grow forever where no lifecycle rule is set.

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};

use crate::client::bucket::Bucket;
use crate::domain::access::layout::{epoch_of_key, MINERS_PREFIX};
use crate::s3::{ListPaging, S3Presigner};

use super::s3_flags::S3Args;

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// Delete miners' objects (`data/hotkey=…/epoch=…/…`) of epochs that started more than --older-than days
    /// ago. Objects outside that layout are left alone.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Age in days of the oldest epoch kept (the server's retention, ZIPCOORD_RETENTION_DAYS, is the usual
    /// choice).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub older_than: u32,
    /// List what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub s3: S3Args,
}

/// What a prune found.
#[derive(Debug, Default, PartialEq, Eq)]
struct PruneReport {
    deleted: u64,
    deleted_bytes: u64,
    kept: u64,
    outside_layout: u64,
}

pub async fn run(command: BucketCommand) -> anyhow::Result<()> {
    match command {
        BucketCommand::Prune(args) => prune(args).await,
    }
}

async fn prune(args: PruneArgs) -> anyhow::Result<()> {
    let settings = args.s3.settings().map_err(anyhow::Error::msg)?.map_err(anyhow::Error::msg)?;
    let presigner = S3Presigner::new(settings);
    let bucket = Bucket::new();
    let now = Utc::now();
    let expires = now + chrono::Duration::hours(1);
    let cutoff_unix = now.timestamp() - i64::from(args.older_than) * 86_400;
    let mut report = PruneReport::default();
    let mut paging = ListPaging::default();
    loop {
        let page = bucket
            .list(&presigner.list_url(MINERS_PREFIX, None, &paging, now, expires))
            .await
            .context("cannot list the bucket")?;
        for object in &page.objects {
            match epoch_of_key(&object.key) {
                Some(epoch) if epoch.start_unix() < cutoff_unix => {
                    if args.dry_run {
                        println!("would delete {} ({} bytes)", object.key, object.size);
                    } else {
                        bucket
                            .delete(&presigner.object_url("DELETE", &object.key, None, now, expires))
                            .await
                            .with_context(|| format!("cannot delete {}", object.key))?;
                    }
                    report.deleted += 1;
                    report.deleted_bytes += object.size;
                }
                Some(_) => report.kept += 1,
                None => report.outside_layout += 1,
            }
        }
        // Deleting what was listed does not move a continuation token (nor the last key).
        match page.next_page() {
            Some(next) => paging = next,
            None => break,
        }
    }
    let cutoff = chrono::DateTime::from_timestamp(cutoff_unix, 0).unwrap_or_default();
    let verb = if args.dry_run { "would delete" } else { "deleted" };
    println!(
        "{verb} {} objects ({} bytes) of epochs that started before {}; kept {} objects of later epochs; left {} \
         objects outside data/hotkey=…/epoch=…/",
        report.deleted,
        report.deleted_bytes,
        cutoff.format("%Y-%m-%dT%H:%M:%SZ"),
        report.kept,
        report.outside_layout
    );
    Ok(())
}
