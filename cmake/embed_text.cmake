# Writes a C++ source defining `std::string_view NAMESPACE::FUNCTION()` that
# returns the contents of INPUT, so a text file ships inside the binary.
# Usage: cmake -DINPUT=<file> -DOUTPUT=<file.cpp> -DNAMESPACE=<ns>
#              -DFUNCTION=<name> -DHEADER=<include> -P embed_text.cmake
file(READ "${INPUT}" text)
string(FIND "${text}" ")miyabi_text\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter")
endif()
set(body "// Generated from ${INPUT} by cmake/embed_text.cmake.\n")
string(APPEND body "#include \"${HEADER}\"\n\n")
string(APPEND body "namespace ${NAMESPACE} {\n\n")
string(APPEND body "std::string_view ${FUNCTION}() {\n")
string(APPEND body "  static constexpr char text[] = R\"miyabi_text(${text})miyabi_text\";\n")
string(APPEND body "  return {text, sizeof(text) - 1};\n}\n\n")
string(APPEND body "} // namespace ${NAMESPACE}\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
