import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Photos of animals (and no person) for the "no pet faces" checks, taken at test time from
 * Debian packages with Debian's own client (apt-get), cached per machine in ~/.cache/rhodesli-kit/test-photos/
 * (outside the clone, so a fresh clone or CI on the same machine does not fetch them again)
 * and never committed:
 * <ul>
 *   <li>chelsea.png — a cat; python3-skimage's data (scikit-image's sample images, the cat
 *       photo given to the public domain/CC0 by Stefan van der Walt);</li>
 *   <li>baboon.jpg (a mandrill), chicky_512.png (a chick) — opencv-doc's sample data (OpenCV's
 *       samples, BSD/Apache code repository; the classic test images carry no stated licence);</li>
 *   <li>dogs.jpg — four dog photos from dlib's examples/faces (Debian's dlib source package;
 *       dlib is Boost-licensed, the photo's origin is not stated). It also holds one small human
 *       face, on a magazine cover lying sideways: upright it shows no face at all.</li>
 * </ul>
 * When apt-get is not there (another distribution), {@link #fetch} says so and callers skip.
 */
public final class AnimalPhotos {
    public static final List<String> NAMES = List.of("chelsea.png", "baboon.jpg", "chicky_512.png", "dogs.jpg");

    private AnimalPhotos() {}

    /** The per-machine cache folder ($XDG_CACHE_HOME or ~/.cache, then rhodesli-kit/test-photos). */
    public static Path defaultCache() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("rhodesli-kit/test-photos");
    }

    /** The cached photos, fetched first if needed; null (with the reason in {@code why[0]}) when they cannot be had. */
    public static List<Path> fetch(Path cache, String[] why) {
        try {
            Files.createDirectories(cache);
            if (!has(cache, "chelsea.png")) {
                debMember(cache, "python3-skimage", "./usr/lib/python3/dist-packages/skimage/data/chelsea.png", "chelsea.png");
            }
            if (!has(cache, "baboon.jpg") || !has(cache, "chicky_512.png")) {
                debMember(cache, "opencv-doc", "./usr/share/doc/opencv-doc/examples/data/baboon.jpg", "baboon.jpg");
                debMember(cache, "opencv-doc", "./usr/share/doc/opencv-doc/examples/data/chicky_512.png", "chicky_512.png");
            }
            if (!has(cache, "dogs.jpg")) dlibDogs(cache);
            List<Path> out = new ArrayList<>();
            for (String n : NAMES) out.add(cache.resolve(n));
            return out;
        } catch (IOException | InterruptedException e) {
            why[0] = "the animal photos could not be fetched from Debian's packages: " + e.getMessage();
            return null;
        }
    }

    private static boolean has(Path cache, String name) throws IOException {
        return Files.isRegularFile(cache.resolve(name)) && Files.size(cache.resolve(name)) > 0;
    }

    /** One member of a binary package, fetched with apt-get download (no install). */
    private static void debMember(Path cache, String pkg, String member, String name) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(cache.resolve("deb-" + pkg));
        Path deb;
        try (var s = Files.list(dir)) {
            deb = s.filter(p -> p.toString().endsWith(".deb")).findFirst().orElse(null);
        }
        if (deb == null) {
            sh(dir, "apt-get download " + pkg + " || (apt-get update >/dev/null && apt-get download " + pkg + ")");
            try (var s = Files.list(dir)) {
                deb = s.filter(p -> p.toString().endsWith(".deb")).findFirst().orElseThrow(() -> new IOException("apt-get download " + pkg + " gave no .deb"));
            }
        }
        sh(cache, "dpkg-deb --fsys-tarfile '" + deb + "' | tar -x -O '" + member + "' > '" + name + ".part' && mv '" + name + ".part' '" + name + "'");
    }

    /**
     * dogs.jpg from dlib's source package, through a private copy of the machine's own apt sources
     * turned into source-package entries (the machine's apt configuration is not changed).
     */
    private static void dlibDogs(Path cache) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(cache.resolve("src-dlib"));
        Files.createDirectories(dir.resolve("lists/partial"));
        Files.createDirectories(dir.resolve("parts"));
        sh(dir, "for f in /etc/apt/sources.list.d/*.sources; do [ -f \"$f\" ] && sed 's/^Types:.*/Types: deb-src/' \"$f\" > parts/$(basename \"$f\"); done;"
                + " if [ -f /etc/apt/sources.list ]; then sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > sources.list; else : > sources.list; fi");
        String o = "-o Dir::Etc::SourceList=" + dir.resolve("sources.list") + " -o Dir::Etc::SourceParts=" + dir.resolve("parts")
                + " -o Dir::State::Lists=" + dir.resolve("lists");
        sh(dir, "ls dlib_*.orig.tar.* >/dev/null 2>&1 || (apt-get " + o + " update >/dev/null && apt-get " + o + " source --download-only dlib >/dev/null)");
        sh(dir, "f=$(ls dlib_*.orig.tar.* | grep -v models | head -1) && tar -xf \"$f\" --wildcards --strip-components=3 '*/examples/faces/dogs.jpg'"
                + " && mv dogs.jpg '" + cache.resolve("dogs.jpg") + "' && rm -f dlib_*.orig-dlib-models.tar.*");
    }

    private static void sh(Path dir, String cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bash", "-c", cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("`" + cmd + "` failed: " + out.strip().lines().reduce((a, b) -> b).orElse(""));
        }
    }
}
