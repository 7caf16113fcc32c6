# mox_library(): one library of the collection, built shared (with SONAME)
# and static from the same objects, with its public header directory, its
# pkg-config file from pkgconfig/<libname>.pc.in and a CMake export set in
# namespace mox:: (component <name>).
#
#   mox_library(NAME dns
#     SOURCES src/a.c src/b.c
#     MOX_DEPS core                      # other mox libraries (public)
#     PKG_DEPS ldns libidn2 libpsl       # pkg-config modules (private)
#     PC_REQUIRES libmoxcore             # .pc Requires:
#     PC_REQUIRES_PRIVATE "ldns libidn2 libpsl")
set(MOX_ABI_VERSION 0)

function(mox_pkg_dep module)
  string(MAKE_C_IDENTIFIER "mox_${module}" prefix)
  if(NOT TARGET PkgConfig::${prefix})
    pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET GLOBAL ${module})
  endif()
  set_property(GLOBAL APPEND PROPERTY MOX_ALL_PKG_DEPS ${module})
endfunction()

function(mox_library)
  cmake_parse_arguments(L "" "NAME" "SOURCES;MOX_DEPS;PKG_DEPS;SYS_LIBS;PC_REQUIRES;PC_REQUIRES_PRIVATE;PC_LIBS_PRIVATE" ${ARGN})
  set(n ${L_NAME})
  set(shared mox${n})
  set(static mox${n}_static)
  set(objs mox${n}_objects)

  add_library(${objs} OBJECT ${L_SOURCES})
  target_include_directories(${objs} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_definitions(${objs} PRIVATE MOX_BUILDING_LIBRARY)

  add_library(${shared} SHARED $<TARGET_OBJECTS:${objs}>)
  add_library(${static} STATIC $<TARGET_OBJECTS:${objs}>)
  set_target_properties(${shared} PROPERTIES OUTPUT_NAME mox${n}
    VERSION ${MOX_ABI_VERSION}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH}
    SOVERSION ${MOX_ABI_VERSION} EXPORT_NAME ${n})
  set_target_properties(${static} PROPERTIES OUTPUT_NAME mox${n} EXPORT_NAME ${n}_static)
  add_library(mox::${n} ALIAS ${shared})
  add_library(mox::${n}_static ALIAS ${static})

  foreach(t ${shared} ${static})
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  foreach(d ${L_MOX_DEPS})
    target_link_libraries(${objs} PUBLIC mox${d}_objects_iface)
    target_link_libraries(${shared} PUBLIC mox${d})
    target_link_libraries(${static} PUBLIC mox${d}_static)
  endforeach()
  foreach(m ${L_PKG_DEPS})
    mox_pkg_dep(${m})
    string(MAKE_C_IDENTIFIER "mox_${m}" prefix)
    target_link_libraries(${objs} PRIVATE PkgConfig::${prefix})
    target_link_libraries(${shared} PRIVATE PkgConfig::${prefix})
    target_link_libraries(${static} PUBLIC $<LINK_ONLY:PkgConfig::${prefix}>)
  endforeach()
  if(L_SYS_LIBS)
    target_link_libraries(${shared} PRIVATE ${L_SYS_LIBS})
    target_link_libraries(${static} PUBLIC $<LINK_ONLY:${L_SYS_LIBS}>)
  endif()

  # Include path of this library's headers for libraries built on it.
  add_library(mox${n}_objects_iface INTERFACE)
  target_include_directories(mox${n}_objects_iface INTERFACE
    ${CMAKE_CURRENT_SOURCE_DIR}/include)
  foreach(d ${L_MOX_DEPS})
    target_link_libraries(mox${n}_objects_iface INTERFACE mox${d}_objects_iface)
  endforeach()

  install(TARGETS ${shared} ${static} EXPORT mox-${n}-targets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY include/mox DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT mox-${n}-targets NAMESPACE mox::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mox)

  set(PC_NAME libmox${n})
  # Relocatable .pc: the prefix is found from the file's own place, so a
  # tree installed with --prefix (or DESTDIR and moved) still works.
  file(RELATIVE_PATH PC_PREFIX_REL
    "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" PC_PREFIX_REL "${PC_PREFIX_REL}")
  list(JOIN L_PC_REQUIRES ", " PC_REQUIRES)
  list(JOIN L_PC_REQUIRES_PRIVATE ", " PC_REQUIRES_PRIVATE)
  list(JOIN L_PC_LIBS_PRIVATE " " PC_LIBS_PRIVATE)
  configure_file(${PROJECT_SOURCE_DIR}/pkgconfig/libmox${n}.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/libmox${n}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/libmox${n}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

  set_property(GLOBAL APPEND PROPERTY MOX_COMPONENTS ${n})
endfunction()

# mox_unit_test(NAME test_x SOURCES ... LIBS ...): a cmocka executable
# registered with ctest under label "unit".
function(mox_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  target_compile_definitions(${T_NAME} PRIVATE
    MOX_TESTDATA_DIR="${MOX_TESTDATA_DIR}"
    MOX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout;${T_ENV}")
endfunction()

# mox_fuzz_target(NAME fuzz_x SOURCES ... LIBS ... CORPUS dir): a libFuzzer
# target when MOX_FUZZ is on, otherwise the same code linked with a small
# replay driver. Either way ctest replays the committed corpus (label
# "fuzz"); with libFuzzer it also runs a short fuzzing session.
function(mox_fuzz_target)
  cmake_parse_arguments(F "" "NAME;CORPUS;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(MOX_FUZZ)
    add_executable(${F_NAME} ${F_SOURCES})
    target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${F_NAME} ${F_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz_replay.c)
  endif()
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  target_include_directories(${F_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/../src)
  set_property(GLOBAL APPEND PROPERTY MOX_FUZZ_TARGETS "${F_NAME}=${F_CORPUS}")
  if(MOX_FUZZ)
    add_test(NAME ${F_NAME}_corpus COMMAND ${F_NAME} -runs=0 ${F_CORPUS})
    if(NOT F_SECONDS)
      set(F_SECONDS 10)
    endif()
    add_test(NAME ${F_NAME}_run COMMAND ${CMAKE_COMMAND}
      -DFUZZER=$<TARGET_FILE:${F_NAME}> -DCORPUS=${F_CORPUS}
      -DWORK=${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}.work -DSECONDS=${F_SECONDS}
      -P ${PROJECT_SOURCE_DIR}/cmake/RunFuzz.cmake)
    set_tests_properties(${F_NAME}_run PROPERTIES LABELS fuzz TIMEOUT 120)
  else()
    add_test(NAME ${F_NAME}_corpus COMMAND ${F_NAME} ${F_CORPUS})
  endif()
  set_tests_properties(${F_NAME}_corpus PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
