///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/Backups.java
//SOURCES ../lib/SyncClient.java ../lib/ArchiveMerge.java ../lib/ArchiveIntegrity.java

/*
 * Step 6 — push: sends data/identities.json and data/photo_index.json to the site, merged
 * first with production's current copies so that nothing an admin did on the site since is
 * lost ("production wins" where an admin acted; shared/spec/matching-and-merge.md).
 *   1. checks the local data's integrity (refuses to push a broken archive);
 *   2. fetches production's documents (refuses to push if that fails: a push without the
 *      merge is the one way to lose admins' work);
 *   3. merges and shows the report, and production's status counts;
 *   4. backs up the local files, writes the merged result locally, pushes it, then reads
 *      production back and checks it holds exactly what was sent.
 * Options:  --data-dir DIR  the archive folder (default: data)
 *           --dry-run       fetch, merge and show the report; change nothing anywhere
 *           --json          print a JSON summary on stdout
 * Needs RHODESLI_SITE_URL and RHODESLI_SYNC_TOKEN (.env or environment).
 * Example:  ./jbang push --dry-run
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;

public class push_to_production {
    static final String USAGE = "./jbang steps/push_to_production.java [--data-dir DIR] [--dry-run] [--json]";
    static final String ABOUT = """
            Step 6: merge the local identities.json and photo_index.json with production's current copies
            (production wins where an admin acted on the site), write the result locally, push it to the
            site and check that the site holds exactly what was sent.

            Example: ./jbang push --dry-run     (shows the merge report, changes nothing)""";

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .option("--data-dir", "DIR", "the archive folder (default: data)")
                    .flag("--dry-run", "fetch and merge, show the report, change nothing anywhere")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            Console console = Console.standard(args.has("--json"));
            KitConfig config = KitConfig.load();
            SyncClient site = SyncClient.fromConfig(config);
            ObjectNode summary = run(site, config.dataDir(args.get("--data-dir")), args.has("--dry-run"), console);
            console.emitJson(summary);
            return StepMain.OK;
        });
    }

    /** The plan: what the merge gives and whether anything needs writing or pushing. */
    record Plan(ObjectNode localIdentities, ObjectNode localPhotoIndex,
                ArchiveMerge.Result identities, ArchiveMerge.Result photoIndex,
                boolean localChanges, boolean productionChanges) {}

    static Plan plan(SyncClient site, ArchiveFiles files, Console console) {
        ObjectNode localIds = files.readIdentities();
        ObjectNode localPhotos = files.readPhotoIndex();
        List<String> problems = ArchiveIntegrity.problems(localIds, localPhotos);
        if (!problems.isEmpty()) {
            for (String p : problems) console.error(p);
            throw new KitException("refusing to push: the local archive in " + files.dataDir() + " fails its integrity check ("
                    + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + " above)",
                    "fix them or restore a good backup (./jbang restore --list); nothing was pushed");
        }
        ObjectNode prodIds, prodPhotos;
        try {
            prodIds = site.fetchIdentities();
            prodPhotos = site.fetchPhotoIndex();
        } catch (KitException e) {
            throw new KitException("refusing to push: could not fetch production's copy to merge with (" + e.getMessage() + ")",
                    (e.fix() == null ? "" : e.fix() + "; ") + "nothing was pushed and nothing changed locally", e);
        }
        ArchiveMerge.Result ids = ArchiveMerge.mergeIdentities(localIds, prodIds);
        ArchiveMerge.Result photos = ArchiveMerge.mergePhotoIndex(localPhotos, prodPhotos);
        boolean localChanges = !JsonFiles.sameContent(ids.document(), localIds) || !JsonFiles.sameContent(photos.document(), localPhotos);
        boolean prodChanges = !JsonFiles.sameContent(ids.document(), prodIds) || !JsonFiles.sameContent(photos.document(), prodPhotos);
        return new Plan(localIds, localPhotos, ids, photos, localChanges, prodChanges);
    }

    public static ObjectNode run(SyncClient site, Path dataDir, boolean dryRun, Console console) throws Exception {
        try (DataLock lock = DataLock.acquire(dataDir, "push_to_production")) {
            if (lock.staleLockReport() != null) console.warn(lock.staleLockReport());
            ArchiveFiles files = new ArchiveFiles(dataDir);
            console.info("Fetching production's identities.json and photo_index.json from " + site.baseUrl() + " ...");
            Plan plan = plan(site, files, console);
            printReport(plan, console);
            ObjectNode summary = JsonFiles.object();
            summary.put("step", "push");
            summary.put("dry_run", dryRun);
            ObjectNode report = summary.putObject("merge_report");
            report.set("identities", plan.identities().counts().toJson());
            report.set("photo_index", plan.photoIndex().counts().toJson());
            try {
                JsonNode status = site.status();
                summary.set("production_status_before", status);
                console.info(String.format("Production now holds %d identities (%d confirmed, %d proposed, %d inbox) and %d photos.",
                        status.path("identities").asInt(), status.path("confirmed").asInt(), status.path("proposed").asInt(),
                        status.path("inbox").asInt(), status.path("photos").asInt()));
            } catch (KitException e) {
                console.warn("could not read production's status counts: " + e.getMessage());
            }
            if (dryRun) {
                console.info("Dry run: nothing was written locally and nothing was pushed.");
                summary.put("pushed", false);
                return summary;
            }
            if (plan.localChanges()) {
                Backups.Backup b = new Backups(dataDir).create();
                if (b != null) console.ok("local files backed up as " + b.label());
                summary.put("backup", b == null ? null : b.label());
                files.writeIdentities(plan.identities().document());
                files.writePhotoIndex(plan.photoIndex().document());
                console.ok("merged result written to " + dataDir);
            }
            if (!plan.productionChanges()) {
                console.ok("production already holds exactly this data: nothing to push");
                summary.put("pushed", false);
                return summary;
            }
            JsonNode answer = site.push(plan.identities().document(), plan.photoIndex().document());
            if (!"ok".equals(answer.path("status").asText())) {
                throw new KitException("the push API did not confirm the push (answer: " + JsonFiles.compact(answer) + ")",
                        "check the site; the merged data is saved locally, run ./jbang push again");
            }
            summary.set("push_answer", answer.path("results"));
            verify(site, plan);
            console.ok("pushed and verified: production holds exactly what was sent");
            summary.put("pushed", true);
            summary.put("verified", true);
            return summary;
        }
    }

    /** Reads production back; it must hold exactly the documents sent. */
    static void verify(SyncClient site, Plan plan) {
        ObjectNode ids = site.fetchIdentities();
        ObjectNode photos = site.fetchPhotoIndex();
        if (!JsonFiles.sameContent(ids, plan.identities().document()) || !JsonFiles.sameContent(photos, plan.photoIndex().document())) {
            throw new KitException("after the push, production's data differs from what was sent (someone may have edited it meanwhile)",
                    "run ./jbang push again: it merges production's latest copy first");
        }
    }

    static void printReport(Plan plan, Console console) {
        ArchiveMerge.Counts i = plan.identities().counts(), p = plan.photoIndex().counts();
        console.info("Merge with production (production wins where an admin acted on the site):");
        console.info(String.format("  %-28s %10s %8s", "", "identities", "photos"));
        console.info(String.format("  %-28s %10d %8d", "unchanged (local kept)", i.keptLocal(), p.keptLocal()));
        console.info(String.format("  %-28s %10d %8d", "changed on site (kept prod.)", i.keptProduction(), p.keptProduction()));
        console.info(String.format("  %-28s %10d %8d", "new from this kit (local)", i.newLocal(), p.newLocal()));
        console.info(String.format("  %-28s %10d %8d", "only on production", i.productionOnly(), p.productionOnly()));
    }
}
