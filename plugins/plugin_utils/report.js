(function(){
"use strict";
var table=document.getElementById("hosts");
var data=document.getElementById("hosts-data");
if(!table||!data){return;}
/* every host, as _host_record writes it; rows and details are built from it one page at a time,
   with textContent and attributes only: names and command lines never become markup */
var hosts=JSON.parse(data.textContent);
var SEVERITIES=["critical","monitor","info"];
var tbody=table.tBodies[0];
var details=document.getElementById("host-details");
var pager=document.getElementById("pager");
var info=document.getElementById("page-info");
var prev=document.getElementById("page-prev");
var next=document.getElementById("page-next");
var all=document.getElementById("page-all");
var headers=Array.prototype.slice.call(table.tHead.rows[0].cells);
var pageSize=parseInt(table.getAttribute("data-page-size"),10)||100;
var order=hosts.map(function(h,i){return i;});
var page=0,showAll=false;
function el(tag,cls,text){
  var e=document.createElement(tag);
  if(cls){e.className=cls;}
  if(text!==undefined&&text!==null){e.textContent=String(text);}
  return e;
}
function put(parent){
  for(var a=1;a<arguments.length;a++){
    var c=arguments[a];
    parent.appendChild(typeof c==="object"?c:document.createTextNode(String(c)));
  }
  return parent;
}
function sorted(cell,key){cell.setAttribute("data-sort",key);return cell;}
function badge(status){return el("span","badge "+status,status.toUpperCase());}
function num(key,text){return sorted(el("td","num",text),key);}
function bar(cls,title,parts){
  var d=el("div",cls);
  d.title=title;
  if(parts.length){d.setAttribute("role","img");d.setAttribute("aria-label",title);}
  parts.forEach(function(p){var s=el("span",p[0]);s.style.width=p[1].toFixed(2)+"%";d.appendChild(s);});
  return d;
}
function renderRow(h){
  var k=h.k,m=h.m,tr=el("tr",h.s),td,a;
  a=el("a",null,h.n);a.href="#host-"+h.i;
  td=sorted(el("th"),k[0]);td.scope="row";put(tr,put(td,a));
  put(tr,put(sorted(el("td"),k[1]),badge(h.s)));
  td=sorted(el("td","findings"),k[2]);
  if(h.s==="unknown"){td.appendChild(el("span","reason",h.r||""));}
  else{
    SEVERITIES.forEach(function(s,j){
      if(h.c[j]){var p=el("span","pill "+s,h.c[j]);p.title=h.c[j]+" "+s;td.appendChild(p);}
    });
    if(!td.firstChild){td.appendChild(el("span","muted","none"));}
    if(h.f){a=el("span","first",h.f);a.title=h.f;td.appendChild(a);}
  }
  tr.appendChild(td);
  for(var j=0;j<4;j++){tr.appendChild(num(k[3+j],m?m[j]:"-"));}
  td=num(k[7],m?m[4]:"-");
  if(m){put(td," ",el("span",m[6]?"pct low":"pct",m[5]));}
  tr.appendChild(td);
  if(typeof h.w==="string"){tr.appendChild(num(k[8],h.w));}
  else{a=el("span",null,h.w[0]);a.title="of "+h.w[1];put(tr,put(num(k[8]),a," ",el("span","pct",h.w[2])));}
  put(tr,put(el("td","bars"),
    h.b?bar("bar",h.b[0],[["used",h.b[1]],["cache",h.b[2]],["free",h.b[3]]]):bar("bar none","memory not gathered",[]),
    h.sb?bar("bar swapbar",h.sb[0],[["swap",h.sb[1]]]):bar("bar swapbar none","no swap",[])));
  tr.appendChild(num(k[10],h.o===null?"-":h.o));
  td=sorted(el("td","top"),k[11]);
  if(h.t){td.title=h.t[2];put(td,h.t[0],el("small",null,"["+h.t[1]+"]")," "+h.t[3]);}
  else{td.title="";td.textContent="-";}
  return put(tr,td);
}
function code(text){return el("code",null,text);}
function remedy(r){
  var d=put(el("div","fix"),el("b",null,"Fix:")," "+r[0]);
  if(r[1]){
    put(d," Role ",code(r[1]));
    if(r[2]){put(d,", variable ",code(r[2]));if(r[3]!==null){put(d," = ",code(r[3]));}}
    put(d,".");
  }
  if(r[4]){put(d," Module ",code(r[4]),".");}
  return d;
}
function procs(rows,label){
  var t=el("table","procs"),head=el("tr"),body=el("tbody");
  [[label,""],["PID","num"],["User",""],["RSS","num"],["Swap","num"],["oom_score","num"]].forEach(function(c){
    head.appendChild(el("th",c[1],c[0]));
  });
  rows.forEach(function(p){
    var name=el("td",null,p[1]);name.title=p[0];
    put(body,put(el("tr"),name,el("td","num",p[2]),el("td",null,p[3]),el("td","num",p[4]),el("td","num",p[5]),
      el("td","num",p[6])));
  });
  return put(t,put(el("thead"),head),body);
}
function renderDetails(h){
  var box=el("details","host");
  box.id="host-"+h.i;
  box.open=(h.s==="critical"||h.s==="unknown")&&h.i<50;
  put(box,put(el("summary",null,h.n),badge(h.s)));
  if(h.s==="unknown"){return put(box,el("p",null,"No diagnosis: "+(h.r||"")));}
  box.appendChild(el("pre","free",h.h));
  if(h.x){box.appendChild(put(el("p"),el("b",null,"OOM kills since boot:")," "+h.x[0]+(h.x[1]?"; last victims: "+h.x[1]:"")));}
  var left=el("div"),right=el("div");
  SEVERITIES.forEach(function(s){
    var group=h.d.filter(function(f){return f[0]===s;});
    if(!group.length){return;}
    left.appendChild(put(el("div","group"),badge(s)," "+group.length));
    group.forEach(function(f){
      var list=el("ul");
      f[3].forEach(function(line){list.appendChild(el("li",null,line));});
      left.appendChild(put(el("div","finding "+s),put(el("h4",null,f[1]+" "),code(f[2])),list,remedy(f[4])));
    });
  });
  if(!h.d.length){left.appendChild(el("p",null,"No findings."));}
  if(h.p.length){right.appendChild(procs(h.p,"Top consumers"));}
  if(h.q.length){var gap=el("div");gap.style.height="8px";put(right,gap,procs(h.q,"Top swap users"));}
  return put(box,put(el("div","hostgrid"),left,right));
}
function render(){
  var pages=Math.max(1,Math.ceil(order.length/pageSize));
  page=Math.min(page,pages-1);
  var from=showAll?0:page*pageSize,to=showAll?order.length:Math.min(order.length,from+pageSize);
  var rows=document.createDocumentFragment(),boxes=document.createDocumentFragment();
  for(var j=from;j<to;j++){rows.appendChild(renderRow(hosts[order[j]]));boxes.appendChild(renderDetails(hosts[order[j]]));}
  tbody.replaceChildren(rows);
  details.replaceChildren(boxes);
  pager.hidden=pages<2;
  info.textContent=showAll?"All "+order.length+" hosts":
    "Page "+(page+1)+" of "+pages+" · hosts "+(from+1)+"–"+to+" of "+order.length;
  prev.disabled=showAll||page===0;
  next.disabled=showAll||page>=pages-1;
  all.setAttribute("aria-pressed",String(showAll));
  all.textContent=showAll?"Show pages":"Show all";
  table.setAttribute("data-page",showAll?"all":String(page+1));
  table.setAttribute("data-pages",String(pages));
}
prev.addEventListener("click",function(){page-=1;render();});
next.addEventListener("click",function(){page+=1;render();});
all.addEventListener("click",function(){showAll=!showAll;render();});
function sortBy(index,direction){
  var th=headers[index];
  var numeric=(th.getAttribute("data-type")||"text")==="num";
  var sign=direction==="descending"?-1:1;
  var keys=hosts.map(function(h){
    var v=h.k[index];
    if(numeric){return typeof v==="number"?v:-Infinity;}
    return String(v===null?"":v).toLowerCase();
  });
  /* the whole fleet, stable: equal keys keep the report's order */
  order.sort(function(a,b){
    if(keys[a]<keys[b]){return -sign;}
    if(keys[a]>keys[b]){return sign;}
    return a-b;
  });
  page=0;
  render();
  headers.forEach(function(h){h.removeAttribute("aria-sort");});
  th.setAttribute("aria-sort",direction);
  var status=document.getElementById("sort-status");
  if(status){status.textContent="Sorted by "+th.textContent.trim()+", "+direction;}
}
headers.forEach(function(th,index){
  var button=th.querySelector("button");
  if(!button){return;}
  button.addEventListener("click",function(){
    var current=th.getAttribute("aria-sort");
    var first=th.getAttribute("data-first")||"ascending";
    var next=current===first?(first==="ascending"?"descending":"ascending"):first;
    sortBy(index,next);
  });
});
/* #host-<n> (the findings' links) shows that host's details even when it is on another page */
function reveal(){
  var match=/^#host-(\d+)$/.exec(window.location.hash);
  if(!match||!hosts[+match[1]]){return;}
  var box=document.getElementById("host-"+match[1]);
  if(!box){box=renderDetails(hosts[+match[1]]);details.insertBefore(box,details.firstChild);}
  box.open=true;
  box.scrollIntoView();
}
window.addEventListener("hashchange",reveal);
render();
/* #sort=<column>:<asc|desc> sorts on load: a link that keeps the order */
var match=/[#&]sort=([\w-]+)(?::(asc|desc))?/.exec(window.location.hash);
if(match){
  headers.forEach(function(th,index){
    if(th.getAttribute("data-key")===match[1]){sortBy(index,match[2]==="desc"?"descending":"ascending");}
  });
}
reveal();
table.setAttribute("data-ready","true");
})();
