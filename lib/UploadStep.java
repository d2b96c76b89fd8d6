import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Step 5 — upload: the archive's registered photos (key {@link Names#photoKey}) and the crops of
 * its registered faces ({@link Names#cropKey}) into the bucket, so the site can show them. Files
 * that are not registered are never sent. Only what is new or changed is sent (same size and MD5
 * = already there, decided from the bucket listing, nothing downloaded); every upload is verified
 * by MD5. Then every upload job of the ledger whose every object is verified in the bucket is
 * marked uploaded: step 7 clears nothing before that.
 *
 * <p>Without the R2 settings (a dry run does not need them) the plan is made from the archive
 * alone and says that the bucket was not consulted.
 */
public final class UploadStep implements Step<UploadStep.Plan, UploadStep.Result> {

    /** Which of the archive's objects a run looks at. */
    public enum Parts {
        ALL, PHOTOS, CROPS;

        boolean photos() {
            return this != CROPS;
        }

        boolean crops() {
            return this != PHOTOS;
        }
    }

    /** @param parallel transfers at once, 1..64 */
    public record Options(Parts parts, int parallel) {
        public Options {
            if (parts == null) throw new IllegalArgumentException("parts");
            if (parallel < 1 || parallel > 64) throw new IllegalArgumentException("parallel must be 1..64, not " + parallel);
        }

        public static Options defaults() {
            return new Options(Parts.ALL, ObjectStore.DEFAULT_PARALLEL);
        }
    }

    /** Files and bytes. */
    public record Count(int files, long bytes) {
        static final Count NONE = new Count(0, 0);
    }

    /** What the plan does with one object: {@code action} is new / changed / unchanged, or not_checked when the bucket was not consulted. */
    public record Item(String key, String file, String contentType, long bytes, String action, String why) {
        boolean toSend() {
            return action.equals("new") || action.equals("changed");
        }
    }

    /**
     * A registered object with no local file (or no usable name). {@code inBucket}: the bucket
     * holds the key already (then it is no failure: nothing needs sending).
     */
    public record Missing(String key, String file, String problem, boolean inBucket) {}

    /**
     * An upload job of the ledger that is ingested and not yet marked uploaded: its objects, how
     * many the bucket holds already and how many the plan sends; {@code blockedBy} says what keeps
     * it from being marked uploaded even if every transfer works (empty: it will be).
     */
    public record JobPlan(String jobId, int objects, int inBucket, int toSend, List<String> blockedBy) {}

    /**
     * @param bucket          the bucket and endpoint consulted, or null
     * @param bucketConsulted false when the R2 settings are absent: {@code notChecked} then counts every registered file
     * @param note            why the bucket was not consulted, or null
     */
    public record Plan(String bucket, boolean bucketConsulted, String note, Parts parts,
                       Count newObjects, Count changed, Count unchanged, Count notChecked, Count toSend,
                       List<Item> items, List<Missing> missing, List<JobPlan> jobs) implements Step.Plan {

        @Override
        public boolean nothingToDo() {
            return toSend.files() == 0 && jobs.stream().noneMatch(j -> j.blockedBy().isEmpty());
        }

        /** The registered files absent locally that the bucket does not hold either: failures. */
        public List<Missing> lost() {
            return missing.stream().filter(m -> !m.inBucket()).toList();
        }

        @Override
        public void print(Console c) {
            c.section("Step 5: upload photos and face crops to R2" + (parts == Parts.ALL ? "" : " (" + parts.name().toLowerCase() + " only)"));
            c.info("");
            if (!bucketConsulted) {
                c.info("The bucket was not consulted: " + note);
                c.info(String.format("  %-10s %7d %12s   (each is compared with the bucket when the upload runs)", "registered",
                        notChecked.files(), ProgressBar.formatBytes(notChecked.bytes())));
            } else {
                c.info("Compared with the " + bucket + ":");
                c.info(String.format("  %-10s %7s %12s", "", "files", "size"));
                c.info(row("new", newObjects));
                c.info(row("changed", changed));
                c.info(row("unchanged", unchanged));
                c.info(row("to send", toSend));
                List<Item> send = items.stream().filter(Item::toSend).toList();
                int shown = Math.min(send.size(), 20);
                for (int i = 0; i < shown; i++) {
                    Item it = send.get(i);
                    c.info(String.format("    %-8s %s  (%s, %s)", it.action(), Names.printable(it.key()), ProgressBar.formatBytes(it.bytes()), it.why()));
                }
                if (send.size() > shown) c.info("    ... and " + (send.size() - shown) + " more (--json lists them all)");
            }
            if (!missing.isEmpty()) {
                c.warn(missing.size() + " registered file(s) cannot be uploaded:");
                int m = Math.min(missing.size(), 20);
                for (int i = 0; i < m; i++) {
                    Missing x = missing.get(i);
                    c.info("    " + x.problem() + (x.inBucket() ? " (the bucket holds it already: nothing to send)" : ""));
                }
                if (missing.size() > m) c.info("    ... and " + (missing.size() - m) + " more (--json lists them all)");
                c.info("  -> the rest goes on; restore those files (or re-run ingest) and upload again.");
            }
            if (!jobs.isEmpty()) {
                c.info("Upload jobs waiting for their upload (" + jobs.size() + "):");
                for (JobPlan j : jobs) {
                    c.info("  " + j.jobId() + ": " + j.objects() + " object(s)" + (bucketConsulted ? ", " + j.inBucket() + " in the bucket already, "
                            + j.toSend() + " to send" : "") + (j.blockedBy().isEmpty() ? "" : "; held back: " + j.blockedBy().get(0)
                            + (j.blockedBy().size() > 1 ? " (and " + (j.blockedBy().size() - 1) + " more)" : "")));
                }
            }
            c.info("");
        }

        private static String row(String what, Count n) {
            return String.format("  %-10s %7d %12s", what, n.files(), ProgressBar.formatBytes(n.bytes()));
        }
    }

    /** A file that could not be sent, and why. */
    public record Failed(String key, String error) {}

    /** A job not marked uploaded, and why. */
    public record Held(String jobId, String why) {}

    public record Result(int filesSent, long bytesSent, double seconds, List<Failed> failed, List<String> jobsUploaded,
                         List<Held> jobsHeld, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            for (Failed f : failed) c.error(Names.printable(f.key()) + ": " + f.error());
            if (filesSent > 0 || failed.isEmpty()) {
                c.ok("sent " + filesSent + " file(s), " + ProgressBar.formatBytes(bytesSent) + " in "
                        + String.format("%.1f s (%s/s)", seconds, ProgressBar.formatBytes((long) (bytesSent / Math.max(seconds, 1e-3)))));
            }
            if (!failed.isEmpty()) {
                c.error(failed.size() + " file(s) could not be uploaded (listed above); the others were sent.");
                c.info("  -> fix the cause and run again: only what is still missing or different is sent.");
            }
            if (!jobsUploaded.isEmpty()) c.ok("upload job(s) verified in the bucket: " + String.join(", ", jobsUploaded));
            for (Held h : jobsHeld) c.info("  job " + h.jobId() + " is not marked uploaded yet: " + h.why());
        }
    }

    private final Options options;
    /** The client that made the last plan of an upload that sends something, for its apply; null otherwise. */
    private ObjectStore kept;

    public UploadStep(Options options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "upload";
    }

    @Override
    public String howToApply() {
        return "run ./jbang upload --execute";
    }

    /** The registered objects: what to compare, and what is missing locally. */
    record Registered(List<UploadPlan.Wanted> wanted, List<Missing> missing) {}

    @Override
    public Plan plan(KitContext ctx) throws Exception {
        ObjectNode index = new ArchiveFiles(ctx.layout().data()).readPhotoIndex();
        JobLedger ledger = ctx.ledger();
        Registered reg = registered(index, ctx.layout(), options.parts());
        List<String> missingKeys = reg.missing().stream().map(Missing::key).filter(k -> k != null).toList();

        List<String> lacking = StoreSettings.missing(ctx.config());
        if (!lacking.isEmpty() && ctx.dryRun()) {
            // A dry run needs no R2 settings: the plan then comes from the archive and the ledger alone.
            List<Item> items = new ArrayList<>();
            long bytes = 0;
            for (UploadPlan.Wanted w : reg.wanted()) {
                long size = Files.size(w.file());
                bytes += size;
                items.add(new Item(w.key(), w.file().toString(), w.contentType(), size, "not_checked", "bucket not consulted"));
            }
            String note = "the R2 settings are not set (" + String.join(", ", lacking) + "), which a dry run does not need";
            return new Plan(null, false, note, options.parts(), Count.NONE, Count.NONE, Count.NONE, new Count(items.size(), bytes),
                    Count.NONE, items, reg.missing(), jobs(ledger, index, items, reg.missing()));
        }
        StoreSettings settings = StoreSettings.from(ctx.config());
        closeKept();
        // A dry run reads the MD5 cache but never writes it: it changes nothing.
        ObjectStore store = ObjectStore.open(settings, options.parallel(),
                ctx.dryRun() ? Md5Cache.readOnly(md5Cache(ctx)) : Md5Cache.at(md5Cache(ctx)));
        UploadPlan compared;
        try {
            compared = store.plan(reg.wanted(), missingKeys);
        } catch (RuntimeException | Error e) {
            store.close();
            throw e;
        }
        // The client that made the plan carries it out (apply follows at once): set up once per run.
        if (!ctx.dryRun() && !compared.toSend().isEmpty()) kept = store;
        else store.close();
        List<Item> items = new ArrayList<>();
        for (UploadPlan.Item i : compared.items()) {
            items.add(new Item(i.key(), i.file().toString(), i.contentType(), i.size(), i.action().name().toLowerCase(), i.why()));
        }
        List<Missing> missing = new ArrayList<>();
        for (Missing m : reg.missing()) {
            missing.add(m.key() != null && compared.alsoListed().contains(m.key()) ? new Missing(m.key(), m.file(), m.problem(), true) : m);
        }
        Count toSend = new Count(compared.toSend().size(), compared.bytesToSend());
        return new Plan(settings.toString(), true, null, options.parts(), count(compared, UploadPlan.Action.NEW),
                count(compared, UploadPlan.Action.CHANGED), count(compared, UploadPlan.Action.UNCHANGED), Count.NONE, toSend,
                items, missing, jobs(ledger, index, items, missing));
    }

    private static Count count(UploadPlan p, UploadPlan.Action a) {
        return new Count(p.count(a), p.bytes(a));
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws Exception {
        StoreSettings settings = StoreSettings.from(ctx.config()); // names every missing variable
        if (!plan.bucketConsulted()) {
            throw new KitException("this upload plan was made without consulting the bucket, so it cannot be carried out",
                    "plan again with the R2 settings set: ./jbang upload, then ./jbang upload --execute");
        }
        List<UploadPlan.Item> send = new ArrayList<>();
        for (Item i : plan.items()) {
            if (i.toSend()) send.add(new UploadPlan.Item(i.key(), Path.of(i.file()), i.contentType(), i.bytes(),
                    UploadPlan.Action.valueOf(i.action().toUpperCase()), i.why()));
        }
        ObjectTransfer.Outcome outcome = new ObjectTransfer.Outcome(0, 0, Map.of(), 0);
        ObjectStore planned = kept;
        kept = null;
        if (send.isEmpty()) {
            if (planned != null) planned.close();
            ctx.console().ok("Everything registered is already in the bucket: nothing to send.");
        } else {
            if (planned != null && !planned.settings().equals(settings)) {
                planned.close();
                planned = null;
            }
            try (ObjectStore store = planned != null ? planned : ObjectStore.open(settings, options.parallel(), md5Cache(ctx));
                 ProgressBar bar = ctx.console().progress("Uploading", plan.toSend().bytes(), true)) {
                outcome = store.execute(new UploadPlan(settings, send, Set.of()), bar);
            }
        }
        List<Failed> failed = new ArrayList<>();
        outcome.failed().forEach((k, why) -> failed.add(new Failed(k, why)));

        // Verified in the bucket: unchanged, sent and checked by MD5, or (no local file) listed there.
        Set<String> verified = new HashSet<>();
        for (Item i : plan.items()) if (i.action().equals("unchanged") || (i.toSend() && !outcome.failed().containsKey(i.key()))) verified.add(i.key());
        for (Missing m : plan.missing()) if (m.inBucket()) verified.add(m.key());

        ObjectNode index = new ArchiveFiles(ctx.layout().data()).readPhotoIndex();
        List<String> uploaded = new ArrayList<>();
        List<Held> held = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        for (Failed f : failed) {
            failures.add(Names.printable(f.key()) + ": " + f.error() + " -> run ./jbang upload --execute again: only what is missing is sent");
        }
        for (Missing m : plan.lost()) failures.add(m.problem() + " -> restore the file (or re-run the ingest of its job), then upload again");
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "upload")) {
            JobLedger ledger = ctx.ledger();
            for (String job : ledger.jobsAt(JobLedger.Milestone.INGESTED, JobLedger.Milestone.UPLOADED)) {
                JobKeys keys = jobKeys(index, ledger.job(job).photoIds());
                List<String> notThere = new ArrayList<>(keys.problems());
                for (String k : keys.keys()) if (!verified.contains(k)) notThere.add(Names.printable(k) + " is not verified in the bucket");
                if (notThere.isEmpty()) {
                    uploaded.add(job);
                    continue;
                }
                String why = notThere.size() + " of its objects are not verified in the bucket (e.g. " + notThere.get(0) + ")";
                held.add(new Held(job, why));
                // A job held only because this run left out photos or crops is not a failure.
                if (options.parts() == Parts.ALL) failures.add("upload job " + job + " is not marked uploaded: " + why
                        + " -> fix the files above and run ./jbang upload --execute again");
            }
            ledger.mark(uploaded, JobLedger.Milestone.UPLOADED);
        }
        return new Result(outcome.sentFiles(), outcome.sentBytes(), Math.round(outcome.seconds() * 1000) / 1000.0, failed,
                uploaded, held, failures);
    }

    private void closeKept() {
        if (kept != null) kept.close();
        kept = null;
    }

    private static Path md5Cache(KitContext ctx) {
        // Remembered MD5s spare re-reading every photo on the next run (.kit/ is the kit's own, git-ignored).
        return ctx.layout().kitCache().resolve(Md5Cache.FILE);
    }

    // ---- what the archive wants in the bucket -------------------------------------------------

    /**
     * The objects the archive wants: each registered photo under {@link Names#photoKey}, each
     * registered face's crop under {@link Names#cropKey}. Registered files absent locally, and
     * names that cannot be used, go to {@code missing}.
     */
    static Registered registered(JsonNode index, Layout layout, Parts parts) {
        List<UploadPlan.Wanted> out = new ArrayList<>();
        List<Missing> missing = new ArrayList<>();
        if (parts.photos()) {
            // Production builds a photo's URL from its basename: two photos sharing one would overwrite each other.
            Map<String, String> owner = new HashMap<>();
            for (var it = index.path("photos").fields(); it.hasNext(); ) {
                var e = it.next();
                String path = e.getValue().path("path").asText("");
                String name = Names.basename(path);
                if (name.isEmpty()) {
                    missing.add(new Missing(null, null, "photo " + e.getKey() + " has no \"path\" in photo_index.json", false));
                    continue;
                }
                String key = Names.photoKey(path);
                String other = owner.putIfAbsent(name, e.getKey());
                if (other != null) {
                    missing.add(new Missing(key, null, "photos " + other + " and " + e.getKey() + " share the file name '" + Names.printable(name)
                            + "'; only " + other + "'s is uploaded (rename one and fix its \"path\")", false));
                    continue;
                }
                if (name.equals("..") || name.equals(".")) {
                    missing.add(new Missing(key, null, "photo " + e.getKey() + "'s path '" + Names.printable(path) + "' names no file", false));
                    continue;
                }
                Path file = layout.photos().resolve(name);
                if (!Files.isRegularFile(file)) {
                    missing.add(new Missing(key, file.toString(), "photo " + e.getKey() + " is registered but " + Names.printable(file.toString()) + " does not exist", false));
                    continue;
                }
                out.add(new UploadPlan.Wanted(key, file, UploadPlan.contentType(name)));
            }
        }
        if (parts.crops()) {
            for (var it = index.path("face_to_photo").fieldNames(); it.hasNext(); ) {
                String faceId = it.next();
                String key = Names.cropKey(faceId);
                Path file = layout.crops().resolve(faceId + ".jpg");
                if (faceId.contains("/") || faceId.contains("\\") || faceId.equals("..")) {
                    missing.add(new Missing(key, null, "face id '" + Names.printable(faceId) + "' cannot be a file name; skipped", false));
                } else if (!Files.isRegularFile(file)) {
                    missing.add(new Missing(key, file.toString(), "face " + Names.printable(faceId) + " is registered but its crop "
                            + Names.printable(file.toString()) + " does not exist", false));
                } else {
                    out.add(new UploadPlan.Wanted(key, file, "image/jpeg"));
                }
            }
        }
        return new Registered(out, missing);
    }

    /** A job's object keys, and why some cannot be named (a photo id unknown to the index). */
    record JobKeys(Set<String> keys, List<String> problems) {}

    /** Every key a job's photos need in the bucket: each photo's key and the crops of its faces. */
    static JobKeys jobKeys(JsonNode index, List<String> photoIds) {
        Set<String> keys = new LinkedHashSet<>();
        List<String> problems = new ArrayList<>();
        Map<String, List<String>> facesOf = new HashMap<>();
        for (var it = index.path("face_to_photo").fields(); it.hasNext(); ) {
            var e = it.next();
            facesOf.computeIfAbsent(e.getValue().asText(), k -> new ArrayList<>()).add(e.getKey());
        }
        for (String id : photoIds) {
            JsonNode photo = index.path("photos").get(id);
            if (photo == null) {
                problems.add("its photo " + id + " is not in photo_index.json");
                continue;
            }
            keys.add(Names.photoKey(photo.path("path").asText("")));
            for (JsonNode face : photo.path("face_ids")) keys.add(Names.cropKey(face.asText()));
            for (String face : facesOf.getOrDefault(id, List.of())) keys.add(Names.cropKey(face));
        }
        return new JobKeys(keys, problems);
    }

    /** The ledger's jobs that are ingested and not yet uploaded, as this plan would leave them. */
    private List<JobPlan> jobs(JobLedger ledger, JsonNode index, List<Item> items, List<Missing> missing) {
        Map<String, Item> byKey = new HashMap<>();
        for (Item i : items) byKey.put(i.key(), i);
        Map<String, Missing> missingByKey = new HashMap<>();
        for (Missing m : missing) if (m.key() != null) missingByKey.putIfAbsent(m.key(), m);
        List<JobPlan> out = new ArrayList<>();
        for (String job : ledger.jobsAt(JobLedger.Milestone.INGESTED, JobLedger.Milestone.UPLOADED)) {
            JobKeys keys = jobKeys(index, ledger.job(job).photoIds());
            int inBucket = 0, toSend = 0;
            List<String> blocked = new ArrayList<>(keys.problems());
            for (String k : keys.keys()) {
                Item i = byKey.get(k);
                Missing m = missingByKey.get(k);
                if (i != null) {
                    if (i.action().equals("unchanged")) inBucket++;
                    else if (i.toSend()) toSend++;
                } else if (m != null && m.inBucket()) {
                    inBucket++;
                } else if (m != null) {
                    blocked.add(m.problem());
                } else {
                    blocked.add(Names.printable(k) + " is not part of this run (" + options.parts().name().toLowerCase() + " only)");
                }
            }
            out.add(new JobPlan(job, keys.keys().size(), inBucket, toSend, blocked));
        }
        return out;
    }
}
