///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES support/SideBySide.java ../sandbox/local_r2.java ../lib/KitException.java ../lib/StepMain.java
//JAVA_OPTIONS -Xmx1g

/*
 * Upload benchmark, whole processes as a user runs them: `./jbang upload --execute` (step 5)
 * against `rclone copy` (Debian's rclone) sending the same files to the same local S3-compatible
 * store (sandbox/local_r2.java, S3Proxy, started by this benchmark in its own JVM), each into its
 * own bucket. Two cases for each tool:
 *   first run       the bucket emptied before each run (untimed), so everything is sent
 *                   (the kit's MD5 cache in .kit/ is deleted too: a first upload from this computer)
 *   nothing to send right after a first run: every file is in the bucket already
 * Rounds run every command once in an order that rotates from round to round
 * (bench/support/SideBySide); the table gives medians, and the kit/rclone ratios are taken per
 * round. "before" is the kit at commit BEFORE (default d90f83f), taken from git into a scratch
 * folder, beside the current one (--no-before: the current kit only).
 *
 * The files: a scratch archive like issue 13's (721 files, ~326 MB): photos of 200 KB-3 MB,
 * crops of 5-20 KB and one large scan, registered in a scratch data/photo_index.json. The kit
 * runs with that scratch folder as its root (KIT_ROOT_OVERRIDE: its own .kit/, no .env), and
 * rclone with a scratch config file: no user configuration is read or touched.
 *
 * Options:  --photos N     photos of 200 KB-3 MB (default 162)
 *           --crops N      crops of 5-20 KB (default 558)
 *           --scan-mb N    the one large scan, in MB (default 60; 0 = none)
 *           --parallel N   transfers at once, both tools (default 4)
 *           --rounds N     timed rounds (default 5), after 1 warm-up round
 *           --before REV   the earlier kit to time beside this one (default d90f83f)
 *           --no-before    time the current kit only
 * Example:  ./jbang bench/upload.java --rounds 5
 */
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public class upload {
    static int photos = 162, crops = 558, scanMb = 60, parallel = 4, rounds = 5;
    static String beforeRev = "d90f83f";

    public static void main(String[] argv) throws Exception {
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--photos" -> photos = Integer.parseInt(argv[++i]);
                case "--crops" -> crops = Integer.parseInt(argv[++i]);
                case "--scan-mb" -> scanMb = Integer.parseInt(argv[++i]);
                case "--parallel" -> parallel = Integer.parseInt(argv[++i]);
                case "--rounds" -> rounds = Integer.parseInt(argv[++i]);
                case "--before" -> beforeRev = argv[++i];
                case "--no-before" -> beforeRev = null;
                case "-h", "--help" -> {
                    System.out.println("Usage: ./jbang bench/upload.java [--photos N] [--crops N] [--scan-mb N] [--parallel N] [--rounds N]"
                            + " [--before REV | --no-before]\n\nTimes ./jbang upload --execute against rclone copy as whole processes, same files,"
                            + " same local S3Proxy:\nfirst run (empty bucket) and nothing to send; rotating order, medians, per-round ratios.");
                    return;
                }
                default -> {
                    System.err.println("unknown option " + argv[i] + " (try --help)");
                    System.exit(2);
                }
            }
        }
        String rclone = findRclone();
        if (rclone == null) {
            System.err.println("rclone is not installed (apt-get install -y rclone): nothing to compare with.");
            System.exit(2);
        }
        Path root = SideBySide.kitRoot();
        Path work = Files.createTempDirectory("bench-upload");
        try {
            bench(root, work, rclone);
        } finally {
            SideBySide.deleteTree(work);
        }
    }

    static void bench(Path root, Path work, String rclone) throws Exception {
        Path src = work.resolve("src");
        long t0 = System.nanoTime();
        Files.createDirectories(src.resolve("raw_photos"));
        Files.createDirectories(src.resolve("crops"));
        SplittableRandom rnd = new SplittableRandom(42);
        StringBuilder index = new StringBuilder("{\"schema_version\": 1, \"photos\": {");
        StringBuilder faces = new StringBuilder();
        long total = 0;
        int files = 0;
        List<String> photoNames = new ArrayList<>();
        if (scanMb > 0) {
            total += writeJpegLike(src.resolve("raw_photos/family_tree_scan.tif"), scanMb * 1_000_000, rnd);
            photoNames.add("family_tree_scan.tif");
        }
        for (int i = 0; i < photos; i++) {
            String name = String.format("Image %03d_compress.jpg", i);
            total += writeJpegLike(src.resolve("raw_photos").resolve(name), rnd.nextInt(200_000, 3_000_001), rnd);
            photoNames.add(name);
        }
        for (int i = 0; i < photoNames.size(); i++) {
            index.append(i == 0 ? "" : ",").append(String.format("\n \"p%015d\": {\"path\": \"%s\", \"face_ids\": []}", i, photoNames.get(i)));
        }
        for (int i = 0; i < crops; i++) {
            String face = String.format("inbox_%012x", i * 7919L);
            total += writeJpegLike(src.resolve("crops").resolve(face + ".jpg"), rnd.nextInt(5_000, 20_001), rnd);
            faces.append(i == 0 ? "" : ",").append(String.format("\n \"%s\": \"p%015d\"", face, i % Math.max(1, photoNames.size())));
        }
        files = photoNames.size() + crops;
        index.append("},\n\"face_to_photo\": {").append(faces).append("}}\n");
        System.out.printf("Files: %d photos (200 KB-3 MB), %d crops (5-20 KB)%s: %d files, %.0f MB, generated in %.1f s%n", photos, crops,
                scanMb > 0 ? ", 1 scan of " + scanMb + " MB" : "", files, total / 1e6, (System.nanoTime() - t0) / 1e9);

        try (local_r2.Running store = local_r2.start(work.resolve("store"), 0, null)) {
            Path rcloneConf = work.resolve("rclone.conf");
            Files.writeString(rcloneConf, "[bench]\ntype = s3\nprovider = Other\nenv_auth = false\naccess_key_id = " + store.accessKey()
                    + "\nsecret_access_key = " + store.secretKey() + "\nendpoint = " + store.endpoint()
                    + "\nregion = auto\nforce_path_style = true\n");
            List<SideBySide.Command> commands = new ArrayList<>();
            List<String[]> pairs = new ArrayList<>(); // {label a, label b}
            Map<String, SideBySide.Command> byLabel = new HashMap<>();

            List<String> rcloneArgv = new ArrayList<>(List.of("env"));
            // Only the scratch config speaks to rclone: AWS_* settings of this shell (a CA bundle, a profile)
            // would change what its S3 library does against a plain-http local store.
            System.getenv().keySet().stream().filter(k -> k.startsWith("AWS_")).sorted().forEach(k -> rcloneArgv.addAll(List.of("-u", k)));
            rcloneArgv.addAll(List.of(rclone, "copy", src.toString(), "bench:rclone", "--config", rcloneConf.toString(),
                    "--transfers", String.valueOf(parallel), "--s3-upload-concurrency", String.valueOf(parallel)));
            SideBySide.Command rcFirst = new SideBySide.Command("rclone copy: first run", rcloneArgv, work)
                    .withSetup(() -> emptyBucket(store, "rclone"));
            SideBySide.Command rcAgain = new SideBySide.Command("rclone copy: nothing to send", rcloneArgv, work);

            List<String[]> kits = new ArrayList<>();
            kits.add(new String[] {"after", root.resolve("jbang").toString()});
            if (beforeRev != null) {
                String old = beforeKit(root, work.resolve("kit-" + beforeRev));
                if (old != null) kits.add(0, new String[] {"before", old});
            }
            commands.add(rcFirst);
            for (String[] k : kits) {
                Path archive = Files.createDirectories(work.resolve("archive-" + k[0]));
                Files.createDirectories(archive.resolve("data"));
                Files.writeString(archive.resolve("data/photo_index.json"), index, StandardCharsets.UTF_8);
                String bucket = "kit-" + k[0];
                Map<String, String> env = Map.of("KIT_ROOT_OVERRIDE", archive.toString(), "R2_ENDPOINT_URL", store.endpoint(),
                        "R2_ACCESS_KEY_ID", store.accessKey(), "R2_SECRET_ACCESS_KEY", store.secretKey(), "R2_BUCKET_NAME", bucket);
                List<String> argv = List.of(k[1], "upload", "--execute", "--parallel", String.valueOf(parallel),
                        "--data-dir", archive.resolve("data").toString(), "--photos-dir", src.resolve("raw_photos").toString(),
                        "--crops-dir", src.resolve("crops").toString());
                SideBySide.Command first = new SideBySide.Command(k[0] + ": upload --execute: first run", argv, root).withEnv(env)
                        .withSetup(() -> {
                            emptyBucket(store, bucket);
                            Files.deleteIfExists(archive.resolve(".kit/upload-md5-cache.json"));
                        });
                SideBySide.Command again = new SideBySide.Command(k[0] + ": upload --execute: nothing to send", argv, root).withEnv(env);
                commands.add(first);
                commands.add(again);
                byLabel.put(k[0] + " first", first);
                byLabel.put(k[0] + " again", again);
            }
            commands.add(rcAgain);

            System.out.printf("Store: sandbox/local_r2 (S3Proxy, filesystem) on 127.0.0.1, in the benchmark's JVM; %d transfers at once;%n"
                    + "whole processes, %d rounds after 1 warm-up round, rotating order; JDK %s, %d cores%n", parallel, rounds,
                    System.getProperty("java.version"), Runtime.getRuntime().availableProcessors());
            // The "nothing to send" runs need a full bucket: the warm-up round's first runs fill it, and
            // every later first run leaves it full again, whatever the order.
            SideBySide.Samples s = SideBySide.run(commands, 1, rounds);
            System.out.println();
            SideBySide.printTable(s, null);
            System.out.println();
            System.out.println("kit / rclone, per round (median, min-max of the wall-time ratios):");
            for (String[] k : kits) {
                System.out.printf("  %-8s first run        %s%n", k[0], SideBySide.pair(s, byLabel.get(k[0] + " first"), rcFirst));
                System.out.printf("  %-8s nothing to send  %s%n", k[0], SideBySide.pair(s, byLabel.get(k[0] + " again"), rcAgain));
            }
            if (kits.size() == 2) {
                System.out.println("after / before, per round:");
                System.out.printf("  first run        %s%n", SideBySide.pair(s, byLabel.get("after first"), byLabel.get("before first")));
                System.out.printf("  nothing to send  %s%n", SideBySide.pair(s, byLabel.get("after again"), byLabel.get("before again")));
            }
            checkBuckets(store, src, kits);
        }
    }

    /** Every tool's bucket must end up holding every file, byte for byte in size: a fast run that sent nothing proves nothing. */
    static void checkBuckets(local_r2.Running store, Path src, List<String[]> kits) throws IOException {
        List<String> buckets = new ArrayList<>(List.of("rclone"));
        for (String[] k : kits) buckets.add("kit-" + k[0]);
        try (var walk = Files.walk(src)) {
            List<Path> all = walk.filter(Files::isRegularFile).toList();
            for (String b : buckets) {
                for (Path f : all) {
                    Path o = store.root().resolve(b).resolve(src.relativize(f).toString());
                    if (!Files.isRegularFile(o) || Files.size(o) != Files.size(f)) {
                        throw new IllegalStateException("bucket " + b + " lacks " + src.relativize(f) + " after the runs");
                    }
                }
            }
            System.out.println("Checked: every bucket holds all " + all.size() + " files at their sizes.");
        }
    }

    static void emptyBucket(local_r2.Running store, String bucket) throws IOException {
        SideBySide.deleteTree(store.root().resolve(bucket));
        store.createBucket(bucket);
    }

    /**
     * The kit as it was at {@code rev}, from git, in {@code dir}, with the JBang this kit fetched
     * already (no download); its ./jbang path, or null with a note when git cannot give it.
     */
    static String beforeKit(Path root, Path dir) throws Exception {
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("bash", "-c", "git archive --format=tar \"$1\" | tar -x -C \"$2\"", "-", beforeRev, dir.toString())
                .directory(root.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0 || !Files.isRegularFile(dir.resolve("jbang"))) {
            System.out.println("(no kit at " + beforeRev + " from git: timing the current kit only) " + out.strip());
            return null;
        }
        if (Files.isDirectory(root.resolve(".kit"))) try (var s = Files.list(root.resolve(".kit"))) {
            for (Path j : s.filter(x -> x.getFileName().toString().startsWith("jbang-")).toList()) {
                SideBySide.copyTree(j, dir.resolve(".kit").resolve(j.getFileName().toString()));
            }
        }
        System.out.println("before: the kit at " + beforeRev + " (git archive into a scratch folder)");
        return dir.resolve("jbang").toString();
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
}
