#!/usr/bin/env python3
import ctypes, llama_cpp
# Prints what llama.cpp's built-in chat templates render for the conversations in
# tests/chat/template.test.cpp (the expected strings there). Run with the reference venv:
#   $(tools/reference/setup.sh) tools/reference/chat_templates.py
msgs=[("system","You are terse."),("user","  Hi there \n"),("assistant","Hello."),("user","2+2?")]
def apply(tmpl, msgs, add):
    arr=(llama_cpp.llama_chat_message*len(msgs))()
    for i,(r,c) in enumerate(msgs): arr[i].role=r.encode(); arr[i].content=c.encode()
    buf=ctypes.create_string_buffer(8192)
    n=llama_cpp.llama_chat_apply_template(tmpl.encode(), arr, len(msgs), add, buf, 8192)
    return buf.raw[:n].decode()
for t in ["gemma","chatml","llama3","phi3","llama2"]:
    print(t, repr(apply(t, msgs if t!="chatml" else [("system","S"),("user","U")], True)))
print(repr(apply("llama3",[("system","S "),("user"," U")],True)))
print(repr(apply("llama2",[("system","S"),("user","U"),("assistant","A"),("user","V")],True)))
print(repr(apply("phi3",[("user","U"),("assistant","A")],False)))
