///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/Args.java ../lib/StepMain.java
//SOURCES ../lib/ArchiveFiles.java ../lib/ObjectStore.java ../lib/CrashPoint.java

/*
 * Step 5 — upload: sends the archive's photos and face crops to Cloudflare R2 (or any
 * S3-compatible store), so the site can show them. Keys: raw_photos/<basename> for every photo
 * registered in data/photo_index.json, crops/<face_id>.jpg for every registered face. Files not
 * registered are never sent. Only what is new or changed is sent (same size and MD5 = already
 * there, checked from the bucket listing, nothing downloaded); every upload is verified by MD5.
 *
 * Options:  --dry-run | --execute    show the plan (default) | carry it out
 *           --photos-only | --crops-only
 *           --data-dir D  --photos-dir P  --crops-dir Q   (defaults: data, raw_photos, raw_photos/crops)
 *           --parallel N   transfers at once (default 4)
 *           --json         one JSON summary on stdout
 * Needs:    R2_ACCOUNT_ID (or R2_ENDPOINT_URL), R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET_NAME
 * Example:  ./jbang upload            (the plan)   then   ./jbang upload --execute
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

public class upload_to_r2 {
    static final String USAGE = "./jbang steps/upload_to_r2.java [--dry-run | --execute] [--photos-only | --crops-only]"
            + " [--data-dir D] [--photos-dir P] [--crops-dir Q] [--parallel N] [--json]";
    static final String ABOUT = """
            Step 5: upload the registered photos (raw_photos/<name>) and face crops (crops/<face_id>.jpg)
            to R2. Only new or changed files are sent; each upload is checked by MD5. Without --execute
            it only shows the plan: what is new, changed or already there.

            Needs R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET_NAME and R2_ACCOUNT_ID (or R2_ENDPOINT_URL
            for another S3-compatible store, e.g. the local one of ./jbang sandbox/local_r2.java).

            Example: ./jbang upload            then   ./jbang upload --execute""";

    /** What to upload, from where; {@code execute} false = only plan. */
    public record Options(Path dataDir, Path photosDir, Path cropsDir, boolean execute, boolean photos, boolean crops, int parallel) {}

    /** A registered file that is not where it should be: reported, the rest goes on. */
    public record Missing(String key, Path file, String why) {}

    public static void main(String[] argv) {
        StepMain.exit(() -> {
            Args args = new Args(USAGE, ABOUT)
                    .flag("--dry-run", "only show what would be sent (the default)")
                    .flag("--execute", "upload the new and changed files")
                    .flag("--photos-only", "only the photos")
                    .flag("--crops-only", "only the face crops")
                    .option("--data-dir", "D", "the archive folder holding photo_index.json (default: data)")
                    .option("--photos-dir", "P", "where the photos are (default: raw_photos)")
                    .option("--crops-dir", "Q", "where the face crops are (default: raw_photos/crops)")
                    .option("--parallel", "N", "transfers at once (default " + ObjectStore.DEFAULT_PARALLEL + ")")
                    .flag("--json", "print one JSON summary on stdout; messages go to stderr")
                    .parse(argv);
            args.atMostOneOf("--dry-run", "--execute");
            args.atMostOneOf("--photos-only", "--crops-only");
            int parallel = args.getInt("--parallel", ObjectStore.DEFAULT_PARALLEL);
            if (parallel < 1 || parallel > 64) throw new Args.Usage("--parallel must be between 1 and 64");
            KitConfig config = KitConfig.load();
            Console console = Console.standard(args.has("--json"));
            Options options = new Options(config.dataDir(args.get("--data-dir")), config.photosDir(args.get("--photos-dir")),
                    config.cropsDir(args.get("--crops-dir")), args.has("--execute"),
                    !args.has("--crops-only"), !args.has("--photos-only"), parallel);
            ObjectNode summary = run(options, config, console);
            console.emitJson(summary);
            return summary.path("failed").size() > 0 ? StepMain.FAILED : StepMain.OK;
        });
    }

    /**
     * Plans the upload and, with {@code options.execute()}, carries out that same plan. The
     * summary's "failed" array is empty when everything planned was sent. The pipeline calls this.
     */
    public static ObjectNode run(Options options, KitConfig config, Console console) {
        console.section("Step 5: upload photos and face crops to R2" + (options.execute() ? "" : " (dry run)"));
        for (String w : config.warnings()) console.warn(w);
        ObjectStore.Settings settings = ObjectStore.settings(config);
        ObjectNode index = new ArchiveFiles(options.dataDir()).readPhotoIndex();
        List<Missing> missing = new ArrayList<>();
        List<ObjectStore.Wanted> wanted = wanted(index, options, missing);

        ObjectNode summary = JsonFiles.object();
        summary.put("step", "upload_to_r2");
        summary.put("mode", options.execute() ? "execute" : "dry-run");
        summary.put("endpoint", settings.endpoint().toString());
        summary.put("bucket", settings.bucket());

        console.info("Checking " + wanted.size() + " registered file(s) against the " + settings + " ...");
        // Remembered MD5s spare re-reading every photo on the next run (.kit/ is the kit's own, git-ignored).
        try (ObjectStore store = ObjectStore.open(settings, options.parallel(), config.root().resolve(".kit/upload-md5-cache.json"))) {
            ObjectStore.Plan plan = store.plan(wanted);
            printPlan(plan, missing, console);
            putPlan(summary, plan, missing);
            ArrayNode failedJson = summary.putArray("failed");
            if (!options.execute()) {
                if (!plan.toSend().isEmpty()) {
                    console.info("Dry run: nothing was sent. To upload these " + plan.toSend().size() + " file(s) ("
                            + ProgressBar.formatBytes(plan.bytesToSend()) + "), run again with --execute.");
                }
                return summary;
            }
            if (plan.toSend().isEmpty()) {
                console.ok("Everything registered is already in the bucket: nothing to send.");
                putOutcome(summary, new ObjectStore.Outcome(0, 0, Map.of(), 0));
                return summary;
            }
            ObjectStore.Outcome outcome;
            try (ProgressBar bar = console.progress("Uploading", plan.bytesToSend(), true)) {
                outcome = store.execute(plan, bar);
            }
            putOutcome(summary, outcome);
            outcome.failed().forEach((key, why) -> {
                console.error(key + ": " + why);
                failedJson.addObject().put("key", key).put("error", why);
            });
            console.ok("sent " + outcome.sentFiles() + " file(s), " + ProgressBar.formatBytes(outcome.sentBytes()) + " in "
                    + String.format("%.1f s (%s/s)", outcome.seconds(), ProgressBar.formatBytes((long) (outcome.sentBytes() / Math.max(outcome.seconds(), 1e-3)))));
            if (!outcome.failed().isEmpty()) {
                console.error(outcome.failed().size() + " file(s) could not be uploaded (listed above); the others were sent.");
                console.info("  -> fix the cause and run again: only what is still missing or different is sent.");
            }
            return summary;
        }
    }

    /**
     * The objects the archive wants: each registered photo's basename under raw_photos/, each
     * registered face's crop under crops/. Registered files absent locally go to {@code missing}.
     */
    public static List<ObjectStore.Wanted> wanted(JsonNode index, Options options, List<Missing> missing) {
        List<ObjectStore.Wanted> out = new ArrayList<>();
        if (options.photos()) {
            // Production builds a photo's URL from its basename: two photos sharing one would overwrite each other.
            Map<String, String> owner = new HashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = index.path("photos").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String path = e.getValue().path("path").asText("");
                String name = basename(path);
                if (name.isEmpty()) {
                    missing.add(new Missing("raw_photos/?", null, "photo " + e.getKey() + " has no \"path\" in photo_index.json"));
                    continue;
                }
                String key = "raw_photos/" + name;
                String other = owner.putIfAbsent(name, e.getKey());
                if (other != null) {
                    missing.add(new Missing(key, null, "photos " + other + " and " + e.getKey() + " share the file name '" + name
                            + "'; only " + other + "'s is uploaded (rename one and fix its \"path\")"));
                    continue;
                }
                Path file = options.photosDir().resolve(name);
                if (!Files.isRegularFile(file)) {
                    missing.add(new Missing(key, file, "photo " + e.getKey() + " is registered but " + file + " does not exist"));
                    continue;
                }
                out.add(new ObjectStore.Wanted(key, file, ObjectStore.contentType(name)));
            }
        }
        if (options.crops()) {
            for (Iterator<String> it = index.path("face_to_photo").fieldNames(); it.hasNext(); ) {
                String faceId = it.next();
                String key = "crops/" + faceId + ".jpg";
                Path file = options.cropsDir().resolve(faceId + ".jpg");
                if (faceId.contains("/") || faceId.contains("\\") || faceId.equals("..")) {
                    missing.add(new Missing(key, null, "face id '" + faceId + "' cannot be a file name; skipped"));
                } else if (!Files.isRegularFile(file)) {
                    missing.add(new Missing(key, file, "face " + faceId + " is registered but its crop " + file + " does not exist"));
                } else {
                    out.add(new ObjectStore.Wanted(key, file, "image/jpeg"));
                }
            }
        }
        return out;
    }

    /** The file name part of a photo's "path" (which may hold folders, with / or \). */
    static String basename(String path) {
        int cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
        return path.substring(cut + 1).strip();
    }

    private static void printPlan(ObjectStore.Plan plan, List<Missing> missing, Console console) {
        console.info("");
        console.info(String.format("  %-10s %7s %12s", "", "files", "size"));
        for (ObjectStore.Action a : ObjectStore.Action.values()) {
            console.info(String.format("  %-10s %7d %12s", a.name().toLowerCase(), plan.count(a), ProgressBar.formatBytes(plan.bytes(a))));
        }
        console.info(String.format("  %-10s %7d %12s", "to send", plan.toSend().size(), ProgressBar.formatBytes(plan.bytesToSend())));
        List<ObjectStore.Item> send = plan.toSend();
        int shown = Math.min(send.size(), 20);
        for (int i = 0; i < shown; i++) {
            ObjectStore.Item it = send.get(i);
            console.info(String.format("    %-8s %s  (%s, %s)", it.action().name().toLowerCase(), it.key(), ProgressBar.formatBytes(it.size()), it.why()));
        }
        if (send.size() > shown) console.info("    ... and " + (send.size() - shown) + " more (--json lists them all)");
        if (!missing.isEmpty()) {
            console.warn(missing.size() + " registered file(s) cannot be uploaded:");
            int m = Math.min(missing.size(), 20);
            for (int i = 0; i < m; i++) console.info("    " + missing.get(i).why());
            if (missing.size() > m) console.info("    ... and " + (missing.size() - m) + " more (--json lists them all)");
            console.info("  -> the rest goes on; restore those files (or re-run ingest) and upload again.");
        }
        console.info("");
    }

    private static void putPlan(ObjectNode summary, ObjectStore.Plan plan, List<Missing> missing) {
        ObjectNode p = summary.putObject("plan");
        for (ObjectStore.Action a : ObjectStore.Action.values()) {
            p.putObject(a.name().toLowerCase()).put("files", plan.count(a)).put("bytes", plan.bytes(a));
        }
        p.putObject("to_send").put("files", plan.toSend().size()).put("bytes", plan.bytesToSend());
        ArrayNode items = summary.putArray("items");
        for (ObjectStore.Item it : plan.items()) {
            items.addObject().put("key", it.key()).put("action", it.action().name().toLowerCase()).put("bytes", it.size())
                    .put("why", it.why()).put("file", it.file().toString());
        }
        ArrayNode miss = summary.putArray("missing");
        for (Missing m : missing) {
            miss.addObject().put("key", m.key()).put("file", m.file() == null ? null : m.file().toString()).put("problem", m.why());
        }
    }

    private static void putOutcome(ObjectNode summary, ObjectStore.Outcome o) {
        summary.putObject("sent").put("files", o.sentFiles()).put("bytes", o.sentBytes()).put("seconds", Math.round(o.seconds() * 1000) / 1000.0);
    }
}
