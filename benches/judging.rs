//! Judging one `groups` epoch in memory, as a validator does once it has downloaded the files: 256 miners in
//! groups of 5, 10,000 listings each (50 zipcodes of 200), every miner's files inspected against its own
//! batch, groupmates following each other's uploads looked for, and every group compared listing by listing. One in ten
//! groups holds a shader; the comparison is timed again with one member already caught, whose vote the groups
//! are recounted without. Prints the time of each step and the peak heap the judging adds on top of the
//! downloaded files (a counting allocator), as one table.
//!
//! `cargo bench --bench judging`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use zipcoord::domain::instant::{iso8601_millis, parse_iso8601};
use zipcoord::domain::judging::consensus::ConsensusSettings;
use zipcoord::domain::judging::following::{following_flags, Uploads};
use zipcoord::domain::judging::group_consensus::{judge_groups, MemberReports};
use zipcoord::domain::judging::listing::{Listing, ListingFile};
use zipcoord::domain::judging::validation::{inspect, EpochTerms, StoredFile, Submission};

/// Counts the heap in use and its peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MINERS: usize = 256;
const GROUP_SIZE: usize = 5;
const ZIPCODES_PER_BATCH: usize = 50;
const LISTINGS_PER_ZIPCODE: usize = 200;
const EPOCH: &str = "2026-12-03T08-00-00";
const START_MS: i64 = 1_796_371_200_000;
const EPOCH_MS: i64 = 4 * 3_600_000;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn hotkey(miner: usize) -> String {
    format!("5Miner{miner:0>42}")
}

/// Miner `miner`'s files: its group's batch, each listing scraped at its own minute; shaders raise one price in
/// ten by 10 %.
fn submission(miner: usize, group: usize, shader: bool) -> Submission {
    let mut files = Vec::with_capacity(ZIPCODES_PER_BATCH);
    for z in 0..ZIPCODES_PER_BATCH {
        let zipcode = format!("{:05}", 10_000 + group * ZIPCODES_PER_BATCH + z);
        let minute = (miner * 7 + z) as i64 % 200;
        let scraped_at = iso8601_millis(START_MS + minute * 60_000);
        let listings = (0..LISTINGS_PER_ZIPCODE)
            .map(|n| {
                let id = format!("zpid-{zipcode}-{n}");
                let price = 200_000 + (n as u64 * 7_919 % 500) * 1_000;
                Listing {
                    url: format!("https://listings.example/homedetails/{id}"),
                    listing_id: id,
                    zipcode: zipcode.clone(),
                    address: format!("{} Oak St", 1 + n),
                    city: "Springfield".into(),
                    state: "IL".into(),
                    price: if shader && n % 10 == 0 { price * 110 / 100 } else { price },
                    bedrooms: 1 + (n as u32 % 5),
                    bathrooms: 1.0 + (n % 3) as f32,
                    living_area_sqft: 800 + (n as u32 * 37 % 2_000),
                    property_type: "SINGLE_FAMILY".into(),
                    scraped_at: scraped_at.clone(),
                }
            })
            .collect();
        files.push(StoredFile {
            key: format!("epoch={EPOCH}/zipcode={zipcode}/data_20261203_0{}.json", z % 10),
            uploaded_at_ms: START_MS + (minute + 1) * 60_000,
            content: Some(ListingFile {
                epoch_id: EPOCH.into(),
                nonce: "00112233aabbccdd".into(),
                hotkey: hotkey(miner),
                zipcode,
                scraped_at,
                listings,
            }),
        });
    }
    Submission { uid: miner as u16, hotkey: hotkey(miner), files, unread: Vec::new() }
}

fn main() {
    let groups = MINERS.div_ceil(GROUP_SIZE);
    let group_of = |miner: usize| miner % groups;
    let submissions: Vec<Submission> = (0..MINERS).map(|m| submission(m, group_of(m), m % 50 == 7)).collect();
    let terms_of = |group: usize| EpochTerms {
        epoch: EPOCH.parse().unwrap(),
        nonce: "00112233aabbccdd".parse().unwrap(),
        start_ms: START_MS,
        end_ms: START_MS + EPOCH_MS,
        tolerance_percent: 10,
        expected: (0..ZIPCODES_PER_BATCH)
            .map(|z| (format!("{:05}", 10_000 + group * ZIPCODES_PER_BATCH + z).parse().unwrap(), 200))
            .collect::<BTreeMap<_, _>>(),
    };
    let terms: Vec<EpochTerms> = (0..groups).map(terms_of).collect();
    let files_heap = IN_USE.load(Ordering::Relaxed);
    PEAK.store(files_heap, Ordering::Relaxed);

    let started = Instant::now();
    let inspections: Vec<_> =
        submissions.iter().map(|s| inspect(s, &terms[group_of(s.uid as usize)], &parse_iso8601)).collect();
    let inspected = started.elapsed();
    let coldkeys: Vec<String> = (0..MINERS).map(|m| format!("cold{m}")).collect();
    let miner_groups: Vec<[usize; 1]> = (0..MINERS).map(|m| [group_of(m)]).collect();
    let uploads: Vec<Uploads<'_>> = inspections
        .iter()
        .enumerate()
        .map(|(m, inspection)| Uploads {
            hotkey: &inspection.hotkey,
            coldkey: &coldkeys[m],
            groups: &miner_groups[m],
            listings: &inspection.listings,
        })
        .collect();
    let started = Instant::now();
    let flags = following_flags(&uploads, EPOCH_MS, &parse_iso8601);
    let copies = started.elapsed();
    assert!(flags.iter().all(Vec::is_empty), "nobody follows anybody here");
    let members: Vec<MemberReports<'_>> = inspections
        .iter()
        .enumerate()
        .map(|(m, inspection)| MemberReports {
            hotkey: &inspection.hotkey,
            coldkey: &coldkeys[m],
            credibility: 0.5,
            groups: vec![group_of(m)],
            listings: &inspection.listings,
            convicted: !inspection.lies.is_empty(),
        })
        .collect();
    let started = Instant::now();
    let findings = judge_groups(&members, groups, &ConsensusSettings::default(), &parse_iso8601);
    let compared = started.elapsed();
    // A member already caught (a copier, say) loses its vote: the groups are counted a second time without it.
    let mut with_convicted = members.clone();
    with_convicted[3].convicted = true;
    let started = Instant::now();
    let recounted = judge_groups(&with_convicted, groups, &ConsensusSettings::default(), &parse_iso8601);
    let recount = started.elapsed();
    assert_eq!(recounted.len(), findings.len());
    drop(recounted);
    let peak = PEAK.load(Ordering::Relaxed);

    let liars = findings.iter().filter(|f| !f.lies().is_empty()).count();
    let shaders = (0..MINERS).filter(|m| m % 50 == 7).count();
    assert_eq!(liars, shaders, "every shader and nothing else is contradicted");
    let listings: usize = inspections.iter().map(|i| i.listings.len()).sum();
    println!("| judging one `groups` epoch in memory ({MINERS} miners, {groups} groups of at most {GROUP_SIZE}, {listings} listings) | figure |");
    println!("|---|---|");
    println!("| inspect every miner's files against its batch | {:.2} s |", inspected.as_secs_f64());
    println!("| look for members following another's uploads, group by group | {:.2} s |", copies.as_secs_f64());
    println!(
        "| compare every group, listing by listing ({liars} shaders contradicted) | {:.2} s |",
        compared.as_secs_f64()
    );
    println!(
        "| the same with one member already caught (its group counted again without it) | {:.2} s |",
        recount.as_secs_f64()
    );
    println!("| total | {:.2} s |", (inspected + copies + compared).as_secs_f64());
    println!("| the downloaded files, parsed | {:.0} MiB |", mib(files_heap));
    println!("| peak heap while judging, above the files | {:.0} MiB |", mib(peak - files_heap));
}
