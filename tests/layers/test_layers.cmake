# test_layers.cmake: the include-direction check (scripts/check-layers.cmake) on a
# small tree made here: every way a lower layer can reach a higher one must fail the
# check with a line naming the file, and legal includes must pass. (The real tree is
# checked by every build: CMakeLists.txt, es_check_layer().)
#
#   cmake -DSCRIPT=scripts/check-layers.cmake -DWORK=scratch-dir
#         -P test_layers.cmake
cmake_minimum_required(VERSION 3.18)

set(failures 0)
# expect(NAME TRUE|FALSE LAYER DIR USES ALL): lists are passed whole, quoted.
function(expect name want_ok layer dir uses all)
    execute_process(COMMAND ${CMAKE_COMMAND} -DLAYER=${layer} "-DDIR=${dir}"
                            "-DUSES=${uses}" "-DALL=${all}" -P "${SCRIPT}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(want_ok AND NOT rc EQUAL 0)
        message("FAIL ${name}: the check refused a legal tree:\n${err}")
    elseif(NOT want_ok AND rc EQUAL 0)
        message("FAIL ${name}: the check let a wrong-direction include through")
    elseif(NOT want_ok AND NOT err MATCHES "wrong-direction include")
        message("FAIL ${name}: refused without saying why:\n${err}")
    else()
        message("ok   ${name}")
        return()
    endif()
    math(EXPR n "${failures} + 1")
    set(failures ${n} PARENT_SCOPE)
endfunction()

# A tree shaped like ours: packet layer, dissectors, storage, command layer under the
# packet layer's own directory (the case include paths alone cannot catch).
set(T "${WORK}/tree")
file(REMOVE_RECURSE "${T}")
file(WRITE "${T}/analyzer/flow.h" "#include <stdint.h>\n")
file(WRITE "${T}/analyzer/cli/cli.h" "#include \"flow.h\"\n")
file(WRITE "${T}/dissectors/h1.h" "#include \"flow.h\"\n")
file(WRITE "${T}/storage/db.h" "#include \"h1.h\"\n#include \"flow.h\"\n")
set(ALL "${T}/analyzer;${T}/dissectors;${T}/storage;${T}/analyzer/cli")

# The packet layer alone.
file(WRITE "${T}/analyzer/ok.c" "#include \"flow.h\"\n#include <stdio.h>\n")
expect("packet layer, own and system headers" TRUE core "${T}/analyzer"
       "" "${ALL}")
file(REMOVE "${T}/analyzer/ok.c")

file(WRITE "${T}/analyzer/bad.c" "#include \"cli/cli.h\"\n")
expect("packet layer includes the command layer by a relative path" FALSE core
       "${T}/analyzer" "" "${ALL}")
file(WRITE "${T}/analyzer/bad.c" "#include \"../storage/db.h\"\n")
expect("packet layer includes storage by ../" FALSE core "${T}/analyzer"
       "" "${ALL}")
file(WRITE "${T}/analyzer/bad.c" "  #  include \"h1.h\"\n")
expect("packet layer includes a dissector header by name" FALSE core "${T}/analyzer"
       "" "${ALL}")
file(WRITE "${T}/analyzer/bad.c" "#include <db.h>\n")
expect("packet layer includes a storage header with <>" FALSE core "${T}/analyzer"
       "" "${ALL}")
file(REMOVE "${T}/analyzer/bad.c")
file(WRITE "${T}/analyzer/bad.h" "#include \"db.h\"\n")
expect("a packet-layer header includes storage" FALSE core "${T}/analyzer"
       "" "${ALL}")
file(REMOVE "${T}/analyzer/bad.h")

expect("storage uses dissectors and the packet layer" TRUE storage "${T}/storage"
       "${T}/dissectors;${T}/analyzer" "${ALL}")
expect("storage without the dissectors in its uses" FALSE storage "${T}/storage"
       "${T}/analyzer" "${ALL}")
expect("the command layer uses everything" TRUE cli "${T}/analyzer/cli"
       "${T}/storage;${T}/dissectors;${T}/analyzer" "${ALL}")

file(REMOVE_RECURSE "${T}")
if(failures GREATER 0)
    message(FATAL_ERROR "${failures} layer check cases failed")
endif()
