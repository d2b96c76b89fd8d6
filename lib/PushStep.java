import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Step 6 — push: sends identities.json and photo_index.json to the site, merged first with
 * production's current copies so that nothing an admin did on the site is lost ("production
 * wins" where an admin acted; shared/spec/matching-and-merge.md).
 *
 * <p>The site's push API has no conditional write, so a merge made against a copy that has
 * changed since would overwrite an admin's work. {@code apply} therefore fetches production
 * again immediately before the push and, when it changed, merges again against the new copy
 * (a bounded number of times): a merge made against a stale copy is never pushed. What
 * remains is the one HTTP round trip between that last fetch and the push.
 */
public final class PushStep implements Step<PushStep.Plan, PushStep.Result> {

    /**
     * @param checks how many times apply may fetch production right before the push; each fetch
     *               that finds production changed costs a new merge, and when every one did the
     *               push is refused ("the site keeps changing")
     * @param site   the sync client's timeouts and retries (tests shorten them)
     */
    public record Options(int checks, SyncClient.Settings site) {
        public Options {
            if (checks < 1) throw new IllegalArgumentException("checks must be at least 1");
        }

        public static Options defaults() {
            return new Options(3, SyncClient.Settings.defaults());
        }
    }

    /** Where each identity and photo of the merged documents came from. */
    public record Report(ArchiveMerge.Counts identities, ArchiveMerge.Counts photos) {
        void print(Console c) {
            c.info("Merge with production (production wins where an admin acted on the site):");
            c.info(String.format("  %-34s %10s %8s", "", "identities", "photos"));
            c.info(String.format("  %-34s %10d %8d", "unchanged (kept local)", identities.keptLocal(), photos.keptLocal()));
            c.info(String.format("  %-34s %10d %8d", "changed on site (kept production)", identities.keptProduction(), photos.keptProduction()));
            c.info(String.format("  %-34s %10d %8d", "new from this kit (new local)", identities.newLocal(), photos.newLocal()));
            c.info(String.format("  %-34s %10d %8d", "only on production", identities.productionOnly(), photos.productionOnly()));
        }
    }

    /** The documents of one merge: production's copy it was made against and what it gives. */
    public record Merge(ObjectNode productionIdentities, ObjectNode productionPhotoIndex,
                        ObjectNode identities, ObjectNode photoIndex, Report report) {
        static Merge of(ObjectNode localIds, ObjectNode localPhotos, ObjectNode prodIds, ObjectNode prodPhotos) {
            ArchiveMerge.Result ids = ArchiveMerge.mergeIdentities(localIds, prodIds);
            ArchiveMerge.Result photos = ArchiveMerge.mergePhotoIndex(localPhotos, prodPhotos);
            return new Merge(prodIds, prodPhotos, ids.document(), photos.document(), new Report(ids.counts(), photos.counts()));
        }

        /** True when production's copy is still the one this merge was made against. */
        boolean madeAgainst(ObjectNode prodIds, ObjectNode prodPhotos) {
            return JsonFiles.sameContent(prodIds, productionIdentities) && JsonFiles.sameContent(prodPhotos, productionPhotoIndex);
        }

        /** True when production already holds exactly the merged documents. */
        boolean heldBy(ObjectNode prodIds, ObjectNode prodPhotos) {
            return JsonFiles.sameContent(prodIds, identities) && JsonFiles.sameContent(prodPhotos, photoIndex);
        }
    }

    /**
     * What a push would do.
     * @param localChanges      the merged documents differ from the local files (they would be backed up and rewritten)
     * @param productionChanges the merged documents differ from production's (they would be pushed)
     * @param local             the local documents the merge was made from (not part of the printed plan)
     * @param merge             the merge (not part of the printed plan)
     */
    public record Plan(String site, String dataDir, int productionIdentities, int productionPhotos, Report report,
                       boolean localChanges, boolean productionChanges,
                       @JsonIgnore ObjectNode localIdentities, @JsonIgnore ObjectNode localPhotoIndex,
                       @JsonIgnore Merge merge) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return !localChanges && !productionChanges;
        }

        @Override
        public void print(Console c) {
            c.info("Production (" + site + ") holds " + productionIdentities + " identities and " + productionPhotos + " photos.");
            report.print(c);
            c.info(localChanges ? "  local files: would be backed up, then rewritten with the merged result"
                    : "  local files: already hold the merged result");
            c.info(productionChanges ? "  production: would receive the merged result (fetched again right before the push)"
                    : "  production: already holds exactly this data; nothing to push");
        }

        /** The plan without the documents themselves (the JSON of --json and of the pipeline's plans). */
        @Override
        public JsonNode toJson() {
            ObjectNode o = JsonFiles.object();
            o.put("site", site);
            o.put("data_dir", dataDir);
            o.put("production_identities", productionIdentities);
            o.put("production_photos", productionPhotos);
            o.set("report", JsonFiles.MAPPER.valueToTree(report));
            o.put("local_changes", localChanges);
            o.put("production_changes", productionChanges);
            return o;
        }
    }

    /**
     * What a push did.
     * @param pushed      the merged documents were sent to the site
     * @param verified    production was read back and holds exactly the merged documents (also
     *                    true when nothing needed pushing because it already did)
     * @param report      the report of the merge that was pushed (or last tried)
     * @param backupLabel the backup of the local files made before they were rewritten; null when they were not
     * @param retries     how many times production had changed right before the push and the merge was made again
     * @param jobsPushed  upload jobs recorded as pushed in the job ledger by this push
     */
    public record Result(boolean pushed, boolean verified, Report report, String backupLabel, int retries,
                         List<String> jobsPushed, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            if (backupLabel != null) c.ok("local files backed up as " + backupLabel + " and rewritten with the merged result");
            if (retries > 0) c.info("production changed " + retries + " time(s) during the push; each time the kit merged again with the new copy");
            if (pushed && verified) c.ok("pushed and verified: production holds exactly what was sent");
            else if (!pushed && verified) c.ok("production already holds exactly this data: nothing to push");
            if (!jobsPushed.isEmpty()) c.ok("upload job(s) now pushed: " + String.join(", ", jobsPushed));
        }
    }

    private final Options options;

    public PushStep() {
        this(Options.defaults());
    }

    public PushStep(Options options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "push";
    }

    @Override
    public Plan plan(KitContext ctx) throws Exception {
        Path data = ctx.layout().data();
        ArchiveFiles files = new ArchiveFiles(data);
        ObjectNode localIds = files.readIdentities();
        ObjectNode localPhotos = files.readPhotoIndex();
        List<String> problems = ArchiveIntegrity.problems(localIds, localPhotos);
        if (!problems.isEmpty()) {
            StringBuilder named = new StringBuilder();
            for (String p : problems) named.append("\n  - ").append(Names.printable(p));
            throw new KitException("refusing to push: the local archive in " + data + " fails its integrity check ("
                    + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + "):" + named,
                    "fix them or restore a good backup (./jbang restore --list); nothing was pushed and nothing changed");
        }
        SyncClient site = site(ctx);
        ctx.console().info("Fetching production's identities.json and photo_index.json from " + site.baseUrl() + " ...");
        Production prod;
        try {
            prod = fetchProduction(site);
        } catch (KitException e) {
            throw new KitException("refusing to push: could not fetch production's copy to merge with (" + e.getMessage() + ")",
                    (e.fix() == null ? "" : e.fix() + "; ") + "nothing was pushed and nothing changed locally", e);
        }
        ObjectNode prodIds = prod.identities(), prodPhotos = prod.photoIndex();
        Merge m = Merge.of(localIds, localPhotos, prodIds, prodPhotos);
        boolean localChanges = !JsonFiles.sameContent(m.identities(), localIds) || !JsonFiles.sameContent(m.photoIndex(), localPhotos);
        return new Plan(site.baseUrl(), data.toString(), prodIds.path("identities").size(), prodPhotos.path("photos").size(),
                m.report(), localChanges, !m.heldBy(prodIds, prodPhotos), localIds, localPhotos, m);
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws Exception {
        Console c = ctx.console();
        Path data = ctx.layout().data();
        try (DataLock lock = DataLock.acquire(data, "push")) {
            if (lock.staleLockReport() != null) c.warn(lock.staleLockReport());
            ArchiveFiles files = new ArchiveFiles(data);
            if (!JsonFiles.sameContent(files.readIdentities(), plan.localIdentities())
                    || !JsonFiles.sameContent(files.readPhotoIndex(), plan.localPhotoIndex())) {
                throw new KitException("the local archive in " + data + " changed after the push was planned",
                        "run ./jbang push again: it merges the files as they are now; nothing was pushed");
            }
            SyncClient site = site(ctx);
            Merge merge = plan.merge();
            ObjectNode onDiskIds = plan.localIdentities(), onDiskPhotos = plan.localPhotoIndex();
            String backup = null;
            int retries = 0;
            ObjectNode prodIds, prodPhotos;
            for (int check = 1; ; check++) {
                // Local files first, so that the last fetch below is followed by nothing but the push.
                if (!JsonFiles.sameContent(merge.identities(), onDiskIds) || !JsonFiles.sameContent(merge.photoIndex(), onDiskPhotos)) {
                    if (backup == null) {
                        Backups.Backup b = new Backups(data).create();
                        backup = b == null ? null : b.label();
                    }
                    files.writeIdentities(merge.identities());
                    files.writePhotoIndex(merge.photoIndex());
                    onDiskIds = merge.identities();
                    onDiskPhotos = merge.photoIndex();
                }
                try {
                    Production prod = fetchProduction(site);
                    prodIds = prod.identities();
                    prodPhotos = prod.photoIndex();
                } catch (KitException e) {
                    return failed(merge, backup, retries, "could not fetch production's copy again right before the push (" + e.getMessage()
                            + "): nothing was pushed; the merged result is saved in " + data + "; run ./jbang push again");
                }
                if (merge.madeAgainst(prodIds, prodPhotos)) break;
                if (check == options.checks()) {
                    return failed(merge, backup, retries, "the site keeps changing (production's data changed at each of "
                            + check + " checks right before the push); nothing was pushed; run ./jbang push again"
                            + " when the admins' work on the site has paused");
                }
                retries++;
                c.warn("production's data changed since it was fetched (an admin at work on the site?): merging again with the new copy");
                merge = Merge.of(plan.localIdentities(), plan.localPhotoIndex(), prodIds, prodPhotos);
                merge.report().print(c);
            }
            boolean pushed = false;
            if (!merge.heldBy(prodIds, prodPhotos)) {
                try {
                    JsonNode answer = site.push(merge.identities(), merge.photoIndex());
                    if (!"ok".equals(answer.path("status").asText())) {
                        return failed(merge, backup, retries, "the push API did not confirm the push (answer: "
                                + Names.printable(JsonFiles.compact(answer)) + "); the merged data is saved locally; check the site, then run ./jbang push again");
                    }
                } catch (KitException e) {
                    return failed(merge, backup, retries, "the push failed: " + e.getMessage()
                            + (e.fix() == null ? "" : " -> " + e.fix()) + "; the merged data is saved locally; run ./jbang push again");
                }
                pushed = true;
                try {
                    Production prod = fetchProduction(site);
                    prodIds = prod.identities();
                    prodPhotos = prod.photoIndex();
                } catch (KitException e) {
                    return new Result(true, false, merge.report(), backup, retries, List.of(), List.of(
                            "pushed, but production could not be read back to verify it (" + e.getMessage() + "); run ./jbang push again to check"));
                }
                if (!merge.heldBy(prodIds, prodPhotos)) {
                    return new Result(true, false, merge.report(), backup, retries, List.of(), List.of(
                            "after the push, production's data differs from what was sent (someone edited it on the site at that very moment);"
                                    + " run ./jbang push again: it merges production's latest copy first"));
                }
            }
            List<String> jobs = markPushed(ctx.ledger(), prodPhotos);
            return new Result(pushed, true, merge.report(), backup, retries, jobs, List.of());
        }
    }

    /** Production's identities.json and photo_index.json, as fetched together. */
    record Production(ObjectNode identities, ObjectNode photoIndex) {}

    /**
     * Both of production's documents, fetched side by side: over the internet the two waits
     * become one, three times a push. A failure is said as before, identities.json's first.
     */
    static Production fetchProduction(SyncClient site) throws Exception {
        java.util.concurrent.FutureTask<ObjectNode> photos = BackgroundWork.start("fetch-photo-index", site::fetchPhotoIndex);
        ObjectNode identities;
        try {
            identities = site.fetchIdentities();
        } finally {
            BackgroundWork.settle(photos);
        }
        return new Production(identities, BackgroundWork.result(photos));
    }

    /**
     * Records as pushed every ingested job whose every photo is in the photo index production
     * was just verified to hold. Only after that verification: step 7 trusts this record.
     */
    static List<String> markPushed(JobLedger ledger, ObjectNode verifiedPhotoIndex) throws java.io.IOException {
        JsonNode photos = verifiedPhotoIndex.path("photos");
        List<String> out = new ArrayList<>();
        for (String id : ledger.jobsAt(JobLedger.Milestone.INGESTED, JobLedger.Milestone.PUSHED)) {
            List<String> ids = ledger.job(id).photoIds();
            // A job whose photos were never recorded cannot be checked, so it is not vouched for.
            if (!ids.isEmpty() && ids.stream().allMatch(photos::has)) out.add(id);
        }
        ledger.mark(out, JobLedger.Milestone.PUSHED);
        return out;
    }

    private static Result failed(Merge merge, String backup, int retries, String why) {
        return new Result(false, false, merge.report(), backup, retries, List.of(), List.of(why));
    }

    /** A client for the configured site; one message names whatever setting is missing or unusable. */
    private SyncClient site(KitContext ctx) {
        SyncClient checked = SyncClient.fromConfig(ctx.config());
        return new SyncClient(checked.baseUrl(), ctx.config().get(KitConfig.SYNC_TOKEN), options.site());
    }
}
