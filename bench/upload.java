///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java
//SOURCES ../lib/StoreSettings.java ../lib/StoreErrors.java ../lib/Checksums.java ../lib/Md5Cache.java ../lib/UploadPlan.java
//SOURCES ../lib/ObjectTransfer.java ../lib/ObjectStore.java ../lib/CrashPoint.java ../sandbox/local_r2.java
//JAVA_OPTIONS -Xmx2g

/*
 * Benchmark of step 5's transfer engine (lib/ObjectStore) against rclone, both sending the same
 * synthetic photos, crops and one large scan to the same local S3-compatible store
 * (sandbox/local_r2.java, in this JVM). For each tool: a first run (everything is new) and a
 * second run right after (nothing changed: it should send 0 bytes), with times, bytes sent and
 * the kit/rclone time ratio. The kit's second run uses its MD5 cache as the step does; a third
 * kit run without the cache shows the cost of hashing every file again. rclone comes from Debian (apt-get install -y rclone); without it
 * the kit's figures are printed alone and the benchmark says so.
 *
 * Options:  --photos N   photos of 200 KB-3 MB (default 250)
 *           --crops N    crops of 5-20 KB (default 500)
 *           --scan-mb N  size of the one large scan in MB (default 60; 0 = none)
 *           --parallel N transfers at once, for both tools (default 4)
 *           --rounds N   repeat both tools N times, taking turns at going first; medians compared (default 4)
 *           --keep       keep the temp folder (printed) instead of deleting it
 * Example:  ./jbang bench/upload.java
 */
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import java.util.stream.Stream;

@Command(name = "bench-upload", mixinStandardHelpOptions = true, description = {
        "Times lib/ObjectStore (step 5's uploads) against rclone copy on the same synthetic files and the",
        "same local S3-compatible store: first run, then a second run that should send nothing."})
public class upload implements Callable<Integer> {
    record Run(String tool, String run, int round, double seconds, long bytes, int files, String note) {}

    @Option(names = "--photos", paramLabel = "N", description = "photos of 200 KB-3 MB (default 250)")
    int photos = 250;
    @Option(names = "--crops", paramLabel = "N", description = "crops of 5-20 KB (default 500)")
    int crops = 500;
    @Option(names = "--scan-mb", paramLabel = "N", description = "the one large scan, in MB (default 60; 0 = none)")
    int scanMb = 60;
    @Option(names = "--parallel", paramLabel = "N", description = "transfers at once, both tools (default 4)")
    int parallel = 4;
    @Option(names = "--rounds", paramLabel = "N", description = "repeat both tools N times, taking turns going first (default 4)")
    int rounds = 4;
    @Option(names = "--keep", description = "keep the temp folder")
    boolean keep;

    public static void main(String... argv) {
        StepMain.exit(new upload(), argv);
    }

    @Override
    public Integer call() throws Exception {
        {
            Path work = Files.createTempDirectory("bench-upload");
            try {
                return bench(work, photos, crops, scanMb, parallel, rounds);
            } finally {
                if (keep) System.out.println("Kept " + work);
                else deleteTree(work);
            }
        }
    }

    /** The kit's engine: plan + execute, twice (the second run should find everything unchanged). */
    static List<Run> kit(local_r2.Running store, String bucket, List<UploadPlan.Wanted> wanted, int parallel, int round, Path cache)
            throws IOException {
        store.createBucket(bucket);
        StoreSettings settings = new StoreSettings(java.net.URI.create(store.endpoint()), bucket,
                store.accessKey(), store.secretKey(), true);
        List<Run> out = new ArrayList<>();
        // As the step does, with its MD5 cache (a fresh one each round); then once more without
        // it, as on a machine that never hashed these files: every one is read again.
        Files.deleteIfExists(cache);
        for (String run : List.of("first", "second", "nocache")) {
            long s = System.nanoTime();
            try (ObjectStore os = ObjectStore.open(settings, parallel, run.equals("nocache") ? null : cache)) {
                UploadPlan plan = os.plan(wanted);
                double planSecs = (System.nanoTime() - s) / 1e9;
                ObjectTransfer.Outcome done = os.execute(plan, null);
                double secs = (System.nanoTime() - s) / 1e9;
                if (!done.failed().isEmpty()) throw new IllegalStateException("kit upload failed: " + done.failed());
                out.add(new Run("kit", run, round, secs, done.sentBytes(), done.sentFiles(),
                        String.format("plan %.2f s, %d unchanged", planSecs, plan.count(UploadPlan.Action.UNCHANGED))));
            }
        }
        return out;
    }

    static int bench(Path work, int photos, int crops, int scanMb, int parallel, int rounds) throws Exception {
        Path src = work.resolve("src");
        Path photoDir = Files.createDirectories(src.resolve("raw_photos"));
        Path cropDir = Files.createDirectories(src.resolve("crops"));
        long t0 = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(42);
        List<UploadPlan.Wanted> wanted = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < photos; i++) {
            Path f = photoDir.resolve(String.format("Image %03d_compress.jpg", i));
            total += writeJpegLike(f, rnd.nextInt(200_000, 3_000_001), rnd);
            wanted.add(new UploadPlan.Wanted("raw_photos/" + f.getFileName(), f, "image/jpeg"));
        }
        for (int i = 0; i < crops; i++) {
            Path f = cropDir.resolve(String.format("inbox_%012x.jpg", i * 7919L));
            total += writeJpegLike(f, rnd.nextInt(5_000, 20_001), rnd);
            wanted.add(new UploadPlan.Wanted("crops/" + f.getFileName(), f, "image/jpeg"));
        }
        if (scanMb > 0) {
            Path f = photoDir.resolve("family_tree_scan.tif");
            total += writeJpegLike(f, scanMb * 1_000_000, rnd);
            wanted.add(new UploadPlan.Wanted("raw_photos/" + f.getFileName(), f, "image/tiff"));
        }
        System.out.printf("Files: %d photos (200 KB-3 MB), %d crops (5-20 KB)%s = %s, generated in %.1f s%n", photos, crops,
                scanMb > 0 ? ", 1 scan of " + scanMb + " MB" : "", ProgressBar.formatBytes(total), (System.nanoTime() - t0) / 1e9);
        System.out.println("Store: sandbox/local_r2 (S3Proxy, filesystem) on 127.0.0.1, in this JVM; " + parallel
                + " transfers at once; fresh buckets each round");
        List<Run> runs = new ArrayList<>();
        try (local_r2.Running store = local_r2.start(work.resolve("store"), 0, null)) {
            String rclone = findRclone();
            warmUp(store, rclone, work, parallel);
            if (rclone == null) {
                System.out.println("rclone is NOT installed: the kit's figures are shown alone (install it with: apt-get install -y rclone).");
            }
            // Other work on this machine makes single timings noisy: several rounds into fresh
            // buckets, the tools taking turns at going first, and the medians compared.
            for (int round = 1; round <= rounds; round++) {
                boolean kitFirst = round % 2 == 1 || rclone == null;
                for (int turn = 0; turn < 2; turn++) {
                    if (kitFirst == (turn == 0)) {
                        runs.addAll(kit(store, "kit-" + round, wanted, parallel, round, work.resolve("md5-cache.json")));
                    } else if (rclone != null) {
                        for (String run : List.of("first", "second")) {
                            runs.add(rclone(rclone, run, src, store, parallel, "rclone-" + round, round));
                        }
                    }
                }
                // Drop this round's copies: 2 x the data per round would otherwise pile up on the
                // disk and slow the later rounds down with write-back.
                deleteTree(work.resolve("store").resolve("kit-" + round));
                deleteTree(work.resolve("store").resolve("rclone-" + round));
            }
        }
        print(runs);
        return StepMain.OK;
    }

    /**
     * The store runs in this JVM: its first requests run cold (class loading, JIT). A small untimed
     * upload first, by rclone when present (an outside process, so the kit's own client stays cold
     * as in real use), keeps that cost out of whichever tool would otherwise go first.
     */
    static void warmUp(local_r2.Running store, String rclone, Path work, int parallel) throws Exception {
        Path dir = Files.createDirectories(work.resolve("warmup"));
        SplittableRandom rnd = new SplittableRandom(7);
        List<UploadPlan.Wanted> few = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            Path f = dir.resolve("w" + i + ".jpg");
            writeJpegLike(f, i == 0 ? 20_000_000 : 300_000, rnd);
            few.add(new UploadPlan.Wanted("warm/" + f.getFileName(), f, "image/jpeg"));
        }
        if (rclone != null) {
            rclone(rclone, "warmup", dir, store, parallel, "warmup", 0);
        } else {
            store.createBucket("warmup");
            try (ObjectStore os = ObjectStore.open(new StoreSettings(java.net.URI.create(store.endpoint()), "warmup",
                    store.accessKey(), store.secretKey(), true), parallel)) {
                os.execute(os.plan(few), null);
            }
        }
    }

    /** Random bytes behind a JPEG start-of-image marker: incompressible, like real photos. */
    static long writeJpegLike(Path f, int size, SplittableRandom rnd) throws IOException {
        byte[] b = new byte[size];
        for (int i = 0; i + 8 <= size; i += 8) {
            long v = rnd.nextLong();
            for (int k = 0; k < 8; k++) b[i + k] = (byte) (v >>> (8 * k));
        }
        b[0] = (byte) 0xFF;
        b[1] = (byte) 0xD8;
        Files.write(f, b);
        return size;
    }

    static String findRclone() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "rclone"))) return Path.of(dir, "rclone").toString();
        }
        return null;
    }

    /** rclone copy src → rclone bucket, configured by environment variables only (no config file touched). */
    static Run rclone(String exe, String run, Path src, local_r2.Running store, int parallel, String bucket, int round) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(exe, "copy", src.toString(), "localr2:" + bucket, "--transfers", String.valueOf(parallel),
                "--s3-upload-concurrency", String.valueOf(parallel), "--use-json-log", "-v",
                "--config", "/dev/null").redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        // Only the RCLONE_CONFIG_* lines below configure it: AWS_* settings of this shell (a CA bundle,
        // a profile) would change what rclone's S3 library does against a plain-http local store.
        env.keySet().removeIf(k -> k.startsWith("AWS_"));
        env.put("RCLONE_CONFIG_LOCALR2_TYPE", "s3");
        env.put("RCLONE_CONFIG_LOCALR2_PROVIDER", "Other");
        env.put("RCLONE_CONFIG_LOCALR2_ENV_AUTH", "false");
        env.put("RCLONE_CONFIG_LOCALR2_ACCESS_KEY_ID", store.accessKey());
        env.put("RCLONE_CONFIG_LOCALR2_SECRET_ACCESS_KEY", store.secretKey());
        env.put("RCLONE_CONFIG_LOCALR2_ENDPOINT", store.endpoint());
        env.put("RCLONE_CONFIG_LOCALR2_REGION", "auto");
        env.put("RCLONE_CONFIG_LOCALR2_FORCE_PATH_STYLE", "true");
        long s = System.nanoTime();
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("rclone did not finish in 10 minutes");
        }
        double secs = (System.nanoTime() - s) / 1e9;
        if (p.exitValue() != 0) throw new IllegalStateException("rclone failed (" + p.exitValue() + "):\n" + tail(out));
        // Its JSON log has one "Copied (...)" line per file sent: add up those files' sizes.
        long bytes = 0;
        int files = 0;
        for (String line : out.split("\n")) {
            if (!line.startsWith("{")) continue;
            var json = JsonFiles.parse(line, "rclone log line");
            if (json.path("msg").asText().startsWith("Copied")) {
                files++;
                bytes += Files.size(src.resolve(json.path("object").asText()));
            }
        }
        return new Run("rclone", run, round, secs, bytes, files, "");
    }

    static String tail(String s) {
        String[] lines = s.split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 15), lines.length));
    }

    static void print(List<Run> runs) {
        System.out.println();
        System.out.printf("%-7s %-7s %5s %9s %12s %7s %8s  %s%n", "tool", "run", "round", "seconds", "bytes sent", "files", "MB/s", "note");
        for (Run r : runs) {
            System.out.printf("%-7s %-7s %5d %9.2f %12s %7d %8.1f  %s%n", r.tool, r.run, r.round, r.seconds, ProgressBar.formatBytes(r.bytes), r.files,
                    r.bytes / 1e6 / Math.max(r.seconds, 1e-3), r.note);
        }
        System.out.println();
        for (String run : List.of("first", "second")) {
            double kit = median(runs, "kit", run), rc = median(runs, "rclone", run);
            if (Double.isNaN(rc)) {
                System.out.printf("%s run: kit median %.2f s (no rclone to compare with)%n", run, kit);
            } else {
                System.out.printf("%s run: median kit %.2f s, rclone %.2f s, kit/rclone time ratio %.2f (%s)%n", run, kit, rc, kit / rc,
                        kit <= rc ? "kit as fast or faster" : "kit SLOWER");
            }
        }
        System.out.printf("kit second run without its MD5 cache (every file hashed again): median %.2f s%n", median(runs, "kit", "nocache"));
        long secondBytes = runs.stream().filter(r -> r.tool.equals("kit") && !r.run.equals("first")).mapToLong(Run::bytes).sum();
        System.out.println("kit second runs sent " + secondBytes + " bytes in all" + (secondBytes == 0 ? " (as they should)" : " (SHOULD BE 0)"));
    }

    static double median(List<Run> runs, String tool, String run) {
        double[] t = runs.stream().filter(r -> r.tool.equals(tool) && r.run.equals(run)).mapToDouble(Run::seconds).sorted().toArray();
        if (t.length == 0) return Double.NaN;
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
