/** Benchmark mains run by scripts/bench.sh: measurements, not tests; shipped in the test jar, not the application jar. */
package org.chainrule.bench;
