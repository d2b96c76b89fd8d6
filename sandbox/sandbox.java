///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//JAVA_OPTIONS -Xmx3g
//DEPS info.picocli:picocli:4.7.7
//SOURCES local_site.java local_r2.java seed_archive.java ../steps/fetch_models.java ../lib/NpmPackage.java ../lib/SandboxServers.java ../lib/Layout.java

/*
 * The sandbox: a complete, local world to try the pipeline in, with nothing real at stake.
 * Everything lives in sandbox/work/ (git-ignored):
 *   site/   the local stand-in of the production site (sandbox/local_site.java), with two staged
 *           upload jobs of real photos: the demo photos sample1–6.jpg of the npm package
 *           @vladmandic/face-api@1.7.15 (taken by that package's author, MIT), fetched once with npm pack;
 *   r2/     the local S3-compatible store standing in for R2 (sandbox/local_r2.java);
 *   data/, raw_photos/   the sandbox archive, seeded with a few CONFIRMED people cut from two of
 *           those photos, so the matching step has someone to find.
 * Models come from models/ (fetched with ./jbang fetch-models if missing).
 * `./jbang process_uploads.java --sandbox` uses it. Run by itself it starts both servers and
 * prints the settings to try the steps by hand against them, until Ctrl+C.
 * Options:  --reset          throw the sandbox's site, store and archive away and seed them again
 *           --for-pipeline   (used by process_uploads.java --sandbox) print the settings as one line
 *                            "SANDBOX-SETTINGS {json}" on stdout, messages on stderr, serve until stdin closes
 * Example:  ./jbang sandbox/sandbox.java --reset
 */
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "sandbox", mixinStandardHelpOptions = true, description = {
        "Starts the sandbox: a local stand-in of the site with two staged upload jobs of real photos,",
        "a local S3 store standing in for R2, and a small archive of confirmed people, all in",
        "sandbox/work/. Prints the settings for running the steps by hand against it; Ctrl+C stops it.", "",
        "Example: ./jbang sandbox/sandbox.java --reset"})
public class sandbox implements Callable<Integer> {
    @Option(names = "--reset", description = "seed the sandbox again from scratch")
    boolean reset;
    @Option(names = "--for-pipeline", description = "for process_uploads.java --sandbox: settings as one JSON line on stdout, serve until stdin closes")
    boolean forPipeline;

    public static final String PHOTOS_PACKAGE = "@vladmandic/face-api@1.7.15";
    public static final String PHOTOS_PACKAGE_SHA256 = "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031";
    public static final String PHOTOS_CREDIT = "demo photos of npm @vladmandic/face-api 1.7.15 by Vladimir Mandic (MIT)";
    public static final String TOKEN = "sandbox-token-not-a-secret";
    public static final String BUCKET = "rhodesli-sandbox";
    /** The two staged upload jobs (8 hex characters, as the site names them) and their photos. */
    public static final Map<String, List<String>> JOBS = new LinkedHashMap<>();

    static {
        JOBS.put("5a3d1c0e", List.of("sample1.jpg", "sample2.jpg", "sample3.jpg"));
        JOBS.put("b7e2f419", List.of("sample4.jpg", "sample5.jpg", "sample6.jpg"));
    }

    /** The photos whose faces become the archive's confirmed people. */
    static final List<String> PEOPLE_FROM = List.of("sample1.jpg", "sample4.jpg");

    /** A running sandbox: both servers, the configuration that points at them, and its folders. */
    public static final class World implements AutoCloseable {
        public final Path work;
        public final Path models;
        public final local_site.Running site;
        public final local_r2.Running r2;
        public final KitConfig config;

        World(Path work, Path models, local_site.Running site, local_r2.Running r2, KitConfig config) {
            this.work = work;
            this.models = models;
            this.site = site;
            this.r2 = r2;
            this.config = config;
        }

        /** The sandbox archive's folders. */
        public Layout layout() {
            return Layout.under(work, models);
        }

        public Path data() {
            return work.resolve("data");
        }

        public Path photos() {
            return work.resolve("raw_photos");
        }

        public Path crops() {
            return work.resolve("raw_photos/crops");
        }

        public Path pending() {
            return work.resolve("raw_photos/pending");
        }

        @Override
        public void close() {
            site.close();
            r2.close();
        }
    }

    public static void main(String... argv) {
        StepMain.exit(new sandbox(), argv);
    }

    @Override
    public Integer call() throws Exception {
        Console console = Console.standard(forPipeline);  // for the pipeline, messages go to stderr
        try (World w = start(KitConfig.findRoot(), reset, console)) {
            if (forPipeline) {
                com.fasterxml.jackson.databind.node.ObjectNode s = JsonFiles.object();
                s.put("work", w.work.toString());
                com.fasterxml.jackson.databind.node.ObjectNode env = s.putObject("env");
                for (String v : SETTINGS) env.put(v, w.config.get(v));
                System.out.println(SandboxServers.SETTINGS_LINE + JsonFiles.compact(s));
                System.out.flush();
                System.in.transferTo(java.io.OutputStream.nullOutputStream());  // until the pipeline closes it, or dies
                return StepMain.OK;
            }
            console.info("");
            console.info("Sandbox running. To run the steps by hand against it, use these settings (e.g. in a shell):");
            for (String v : SETTINGS) console.info("  export " + v + "=" + w.config.get(v));
            console.info("and the folders --data-dir " + w.data() + " --dest " + w.pending() + " --photos-dir " + w.photos()
                    + " --crops-dir " + w.crops());
            console.info("Ctrl+C stops it.");
            Thread.currentThread().join();
            return StepMain.OK;
        }
    }

    /** What a step needs to talk to the sandbox's site and store. */
    static final List<String> SETTINGS = List.of(KitConfig.SITE_URL, KitConfig.SYNC_TOKEN, KitConfig.R2_ENDPOINT_URL,
            KitConfig.R2_ACCOUNT_ID, KitConfig.R2_ACCESS_KEY_ID, KitConfig.R2_SECRET_ACCESS_KEY, KitConfig.R2_BUCKET_NAME);

    /** Seeds the sandbox on first use (or after --reset), starts its servers, returns its world. */
    public static World start(Path root, boolean reset, Console console) throws Exception {
        Path work = root.resolve("sandbox/work");
        Path models = root.resolve("models");
        console.info("SANDBOX: a local stand-in of the site and of R2, and a sandbox archive, all in " + work);
        console.info("         nothing here touches the real site, the real R2 bucket or the real archive in data/.");
        if (reset) {
            console.info("Resetting the sandbox (its photo cache is kept) ...");
            for (String d : List.of("site", "r2", "data", "raw_photos")) deleteTree(work.resolve(d));
        }
        if (!Files.isRegularFile(ModelCatalog.file(models))) {
            console.info("Fetching the face models first ...");
            FetchModelsStep.installDefaults(models, console);
        }
        if (!Files.isRegularFile(work.resolve("site/identities.json"))) seed(work, models, console);
        local_site.Running site = local_site.start(work.resolve("site"), 0, TOKEN);
        local_r2.Running r2;
        try {
            r2 = local_r2.start(work.resolve("r2"), 0, BUCKET);
        } catch (Exception e) {
            site.close();
            throw e;
        }
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put(KitConfig.SITE_URL, site.url());
        env.put(KitConfig.SYNC_TOKEN, TOKEN);
        env.put(KitConfig.R2_ENDPOINT_URL, r2.endpoint());
        env.put(KitConfig.R2_ACCOUNT_ID, "sandbox");
        env.put(KitConfig.R2_ACCESS_KEY_ID, r2.accessKey());
        env.put(KitConfig.R2_SECRET_ACCESS_KEY, r2.secretKey());
        env.put(KitConfig.R2_BUCKET_NAME, BUCKET);
        console.info("SANDBOX site: " + site.url() + "   store: " + r2.endpoint() + " (bucket " + BUCKET + ")");
        return new World(work, models, site, r2, KitConfig.load(root, env));
    }

    /**
     * First use: the photos, the confirmed people cut from two of them, the archive seeded from
     * those people, production's copy of it, and the two staged upload jobs.
     */
    static void seed(Path work, Path models, Console console) throws Exception {
        console.info("Seeding the sandbox (first use) ...");
        Map<String, byte[]> photos = samplePhotos(work.resolve("cache"), console);
        Path people = work.resolve("cache/people");
        deleteTree(people);
        try (FaceModels m = FaceModels.open(models, FaceModels.cores())) {
            char letter = 'A';
            for (String name : PEOPLE_FROM) {
                Photos.Image img = Photos.decode(photos.get(name), name).image();
                int i = 0;
                for (FaceDetector.Face face : FaceDetector.readingOrder(m.detector.detect(img))) {
                    Path dir = Files.createDirectories(people.resolve("Sandbox Person " + letter++));
                    AtomicFiles.write(dir.resolve(name.replace(".jpg", "") + "-face" + i++ + ".jpg"),
                            Photos.encodeJpeg(Photos.faceCrop(img, face.box(), 0.8, 480), 0.92f));
                }
            }
        }
        Path data = work.resolve("data");
        seed_archive.run(people, data, work.resolve("raw_photos"), work.resolve("raw_photos/crops"), models, console);
        // Production starts in step with the sandbox archive, as after an earlier run.
        Path site = Files.createDirectories(work.resolve("site"));
        for (String n : ArchiveFiles.NAMES) AtomicFiles.copy(data.resolve(n), site.resolve(n), true);
        JsonFiles.write(site.resolve("annotations.json"), JsonFiles.object());
        int n = 1;
        for (var job : JOBS.entrySet()) {
            Map<String, byte[]> files = new LinkedHashMap<>();
            for (String f : job.getValue()) files.put(f, photos.get(f));
            local_site.stageUpload(site, job.getKey(), "Sandbox upload " + n, "Sandbox: " + PHOTOS_CREDIT, files);
            n++;
        }
        console.ok("sandbox seeded: " + JOBS.size() + " upload jobs staged on the local site, archive in " + data);
    }

    /** sample1–6.jpg, from the cache or fetched once with npm pack (pinned tarball hash). */
    static Map<String, byte[]> samplePhotos(Path cache, Console console) throws Exception {
        Set<String> names = new TreeSet<>();
        for (List<String> l : JOBS.values()) names.addAll(l);
        Map<String, byte[]> out = new LinkedHashMap<>();
        boolean cached = true;
        for (String n : names) cached &= Files.isRegularFile(cache.resolve(n));
        if (!cached) {
            console.info("Fetching the sandbox's photos: " + PHOTOS_CREDIT + " (npm pack " + PHOTOS_PACKAGE + ") ...");
            Set<String> members = new TreeSet<>();
            for (String n : names) members.add("package/demo/" + n);
            Map<String, byte[]> got = NpmPackage.fetch(PHOTOS_PACKAGE, PHOTOS_PACKAGE_SHA256, members, cache, "the sandbox's sample photos");
            for (String n : names) {
                byte[] b = got.get("package/demo/" + n);
                if (b == null) throw new KitException(PHOTOS_PACKAGE + " has no demo/" + n, "report this: the pinned package should hold it");
                AtomicFiles.write(cache.resolve(n), b);
            }
        }
        for (String n : names) out.put(n, Files.readAllBytes(cache.resolve(n)));
        return out;
    }

    static void deleteTree(Path p) throws java.io.IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.delete(f);
        }
    }
}
