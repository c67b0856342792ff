// Package strictyaml reads the YAML that people write for mockloop (rig
// configs, test protocols) into a tree that keeps every value's file, line and
// column, and refuses what such files never need but hostile or broken input
// uses: aliases and anchors (alias bombs), several documents, binary data,
// huge files. Decoders built on it walk the tree themselves so that they can
// report every mistake at once, each at its position, instead of stopping at
// the first one as reflection-based decoding does. ReadFile and ReadFS read
// such files (and the rig's calibration file) with the size bound, refusing
// FIFOs and devices without blocking.
//
// # Imports
//
// None of the project. protocols (protocol files) and rig (rig configs)
// import it.
package strictyaml
